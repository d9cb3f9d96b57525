// Reads Auditrail's log as C2SP tlog-tiles with Go's golang.org/x/mod/sumdb packages,
// unchanged: note.Open for the checkpoint, tlog.TileHashReader for the tiles (it checks
// tiles against the signed tree), tlog.ProveRecord and tlog.CheckRecord for every leaf
// with proofs built from the tiles alone, tlog.RecordHash for each entry of the bundles.
// Reads one JSON document on stdin; prints one line per check; exits 1 at the first that
// fails.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type input struct {
	VerifierKey string            `json:"verifier_key"`
	Checkpoint  string            `json:"checkpoint"`
	Tiles       map[string]string `json:"tiles"` // C2SP path after tile/ -> base64
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

// c2sp is a tile's path as tlog-tiles spells it (after "tile/"): sumdb's own paths
// carry the tile height (tile/8/...) and call entry bundles "data".
func c2sp(t tlog.Tile) string {
	path := strings.TrimPrefix(t.Path(), "tile/8/")
	return strings.Replace(path, "data/", "entries/", 1)
}

type tiles map[string][]byte

func (m tiles) Height() int { return 8 }

func (m tiles) ReadTiles(wanted []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(wanted))
	for i, t := range wanted {
		data, ok := m[c2sp(t)]
		if !ok {
			return nil, fmt.Errorf("no tile %s", c2sp(t))
		}
		out[i] = data
	}
	return out, nil
}

func (m tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail("input: %v", err)
	}
	verifier, err := note.NewVerifier(in.VerifierKey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	opened, err := note.Open([]byte(in.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint: %v", err)
	}
	lines := strings.Split(opened.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("tree size: %v", err)
	}
	var root tlog.Hash
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		fail("root hash: %q", lines[2])
	}
	copy(root[:], raw)
	fmt.Printf("ok checkpoint of size %d signed\n", size)

	store := tiles{}
	for path, data := range in.Tiles {
		if store[path], err = base64.StdEncoding.DecodeString(data); err != nil {
			fail("tile %s: %v", path, err)
		}
	}
	reader := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, store)
	computed, err := tlog.TreeHash(size, reader)
	if err != nil || computed != root {
		fail("tree hash from the tiles: %v", err)
	}
	fmt.Printf("ok the tiles give the signed root\n")

	indexes := make([]int64, size)
	for i := range indexes {
		indexes[i] = tlog.StoredHashIndex(0, int64(i))
	}
	leaves, err := reader.ReadHashes(indexes)
	if err != nil {
		fail("leaf hashes: %v", err)
	}
	proveAll(size, root, leaves, reader)
	fmt.Printf("ok %d records proved from the tiles\n", size)
	for start := int64(0); start < size; start += 256 {
		width := size - start
		if width > 256 {
			width = 256
		}
		bundle := tlog.Tile{H: 8, L: -1, N: start / 256, W: int(width)}
		data, ok := store[c2sp(bundle)]
		if !ok {
			fail("no bundle %s", c2sp(bundle))
		}
		for j := int64(0); j < width; j++ {
			if len(data) < 2 {
				fail("bundle %s ends at entry %d", c2sp(bundle), j)
			}
			length := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+length {
				fail("bundle %s cuts entry %d", c2sp(bundle), j)
			}
			if tlog.RecordHash(data[2:2+length]) != leaves[start+j] {
				fail("entry %d of %s is not leaf %d", j, c2sp(bundle), start+j)
			}
			data = data[2+length:]
		}
		if len(data) != 0 {
			fail("bundle %s holds more than %d entries", c2sp(bundle), width)
		}
		fmt.Printf("ok bundle %s: %d entries hash to their leaves\n", c2sp(bundle), width)
	}
}

// proveAll checks every leaf against the signed root with a proof built from the tiles:
// TileHashReader alone lets some full tiles through unchecked (in x/mod 0.7.0 its loop
// authenticating tiles against their parents starts past as many tiles as the tree
// hash has subtrees, duplicates counted), CheckRecord does not.
func proveAll(size int64, root tlog.Hash, leaves []tlog.Hash, reader tlog.HashReader) {
	for i := int64(0); i < size; i++ {
		proof, err := tlog.ProveRecord(size, i, reader)
		if err != nil {
			fail("proof of record %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, size, root, i, leaves[i]); err != nil {
			fail("record %d: %v", i, err)
		}
	}
}
