//go:build linux

package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestChunksContinueOneStream checks that a file made chunk by chunk holds
// the same bytes as one fill of its whole size (what the datasets held
// before they were made in chunks), at sizes around the chunk boundary.
func TestChunksContinueOneStream(t *testing.T) {
	for _, size := range []int{0, 1, 7, 8, 4097, chunkSize - 1, chunkSize, chunkSize + 1, 2*chunkSize + 13} {
		d := dataset{seed: 7, size: func(*rand.Rand, int) int { return size }}
		var got []byte
		for c := range d.chunks(3) {
			got = append(got, c...)
		}
		r := rand.New(rand.NewPCG(7, 3))
		want := fill(r, nil, d.size(r, 3))
		if !bytes.Equal(got, want) {
			t.Errorf("size %d: chunks give %d bytes that differ from one fill of %d", size, len(got), len(want))
		}
	}
}

// TestSameContent checks the comparison that verify uses: it accepts the
// file writeFile made and rejects one changed byte, a missing byte and an
// extra byte.
func TestSameContent(t *testing.T) {
	d := largeSet("t", 1, 1, 5)
	d.size = func(*rand.Rand, int) int { return chunkSize + 100 }
	path := filepath.Join(t.TempDir(), "f")
	n, err := d.writeFile(0, path)
	if err != nil || n != chunkSize+100 {
		t.Fatalf("writeFile: %d bytes, %v", n, err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[chunkSize+50] ^= 1
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"as written", good, true},
		{"one byte changed in the second chunk", flipped, false},
		{"last byte missing", good[:len(good)-1], false},
		{"one byte more", append(bytes.Clone(good), 0), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if err := os.WriteFile(path, tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := d.sameContent(0, path)
		if err != nil || got != tt.want {
			t.Errorf("%s: sameContent = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}
