// Checks Auditrail's checkpoints and proofs with Go's golang.org/x/mod/sumdb packages,
// unchanged: note.Open for the signed notes, tlog.CheckRecord and tlog.CheckTree for the
// RFC 9162 proofs. Reads one JSON document on stdin; prints one line per check; exits 1
// at the first that fails.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type record struct {
	TreeSize int64    `json:"tree_size"`
	Root     string   `json:"root"`
	Index    int64    `json:"index"`
	Leaf     string   `json:"leaf"`
	Proof    []string `json:"proof"`
}

type tree struct {
	OldSize int64    `json:"old_size"`
	OldRoot string   `json:"old_root"`
	NewSize int64    `json:"new_size"`
	NewRoot string   `json:"new_root"`
	Proof   []string `json:"proof"`
}

type input struct {
	VerifierKey string   `json:"verifier_key"`
	Notes       []string `json:"notes"`
	Records     []record `json:"records"`
	Trees       []tree   `json:"trees"`
}

func hash(text string) tlog.Hash {
	var h tlog.Hash
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(raw) != tlog.HashSize {
		fail("not a base64 hash: %q", text)
	}
	copy(h[:], raw)
	return h
}

func hashes(texts []string) []tlog.Hash {
	out := make([]tlog.Hash, len(texts))
	for i, t := range texts {
		out[i] = hash(t)
	}
	return out
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail("input: %v", err)
	}
	verifier, err := note.NewVerifier(in.VerifierKey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	for i, text := range in.Notes {
		n, err := note.Open([]byte(text), note.VerifierList(verifier))
		if err != nil {
			fail("note %d: %v", i, err)
		}
		fmt.Printf("ok note %d: %d signature(s) verified by %s\n", i, len(n.Sigs), verifier.Name())
	}
	for i, r := range in.Records {
		leaf := hash(r.Leaf)
		if err := tlog.CheckRecord(tlog.RecordProof(hashes(r.Proof)), r.TreeSize, hash(r.Root), r.Index, leaf); err != nil {
			fail("record %d (leaf %d of %d): %v", i, r.Index, r.TreeSize, err)
		}
		fmt.Printf("ok record %d: leaf %d in tree of size %d\n", i, r.Index, r.TreeSize)
	}
	for i, t := range in.Trees {
		if err := tlog.CheckTree(tlog.TreeProof(hashes(t.Proof)), t.NewSize, hash(t.NewRoot), t.OldSize, hash(t.OldRoot)); err != nil {
			fail("tree %d (%d -> %d): %v", i, t.OldSize, t.NewSize, err)
		}
		fmt.Printf("ok tree %d: %d extends %d\n", i, t.NewSize, t.OldSize)
	}
}
