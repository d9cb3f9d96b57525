// Checks a witness's cosignatures with Go's golang.org/x/mod/sumdb/note, as Debian ships
// it: note.Open with the log's verifier and a cosignature/v1 verifier written here from
// C2SP tlog-cosignature alone (key id with type 0x04, an 8-byte big-endian time, then an
// Ed25519 signature of "cosignature/v1\ntime <t>\n" and the checkpoint's text). Reads one
// JSON document on stdin; prints one line; exits 1 if the note does not open with both.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

type input struct {
	LogKey     string `json:"log_key"`
	WitnessKey string `json:"witness_key"`
	Note       string `json:"note"`
}

type cosigner struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (c cosigner) Name() string    { return c.name }
func (c cosigner) KeyHash() uint32 { return c.hash }
func (c cosigner) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), msg...)
	return ed25519.Verify(c.key, signed, sig[8:])
}

func newCosigner(vkey string) (cosigner, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return cosigner{}, fmt.Errorf("not a verifier key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		return cosigner{}, fmt.Errorf("not a cosignature/v1 key")
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	hash := binary.BigEndian.Uint32(h[:4])
	if fmt.Sprintf("%08x", hash) != parts[1] {
		return cosigner{}, fmt.Errorf("key id %s does not match", parts[1])
	}
	return cosigner{parts[0], hash, ed25519.PublicKey(raw[1:])}, nil
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Printf("FAIL input: %v\n", err)
		os.Exit(1)
	}
	logVerifier, err := note.NewVerifier(in.LogKey)
	if err != nil {
		fmt.Printf("FAIL log key: %v\n", err)
		os.Exit(1)
	}
	witness, err := newCosigner(in.WitnessKey)
	if err != nil {
		fmt.Printf("FAIL witness key: %v\n", err)
		os.Exit(1)
	}
	n, err := note.Open([]byte(in.Note), note.VerifierList(logVerifier, witness))
	if err != nil {
		fmt.Printf("FAIL note: %v\n", err)
		os.Exit(1)
	}
	names := []string{}
	for _, sig := range n.Sigs {
		names = append(names, sig.Name)
	}
	if len(names) != 2 {
		fmt.Printf("FAIL verified only %v\n", names)
		os.Exit(1)
	}
	fmt.Printf("ok verified by %s\n", strings.Join(names, " and "))
}
