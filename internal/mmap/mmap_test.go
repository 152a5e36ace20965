package mmap

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"small", []byte("hello")},
		{"page", bytes.Repeat([]byte{7}, 8193)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Bytes(), tc.data) || m.Len() != len(tc.data) {
				t.Fatalf("got %d bytes, want %d", m.Len(), len(tc.data))
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file: want error")
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("directory: want error")
	}
}

func TestRelease(t *testing.T) {
	const size = 64 << 12
	p := filepath.Join(t.TempDir(), "data")
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i * 7)
	}
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !bytes.Equal(m.Bytes(), want) { // faults every page in
		t.Fatal("mapped bytes differ from the file")
	}
	before, err := Resident(m.Bytes())
	if err != nil {
		t.Skip(err)
	}
	if before < size/2 {
		t.Skipf("only %d of %d bytes resident after reading them all", before, size)
	}
	page := int64(os.Getpagesize())
	// The cases run in order on one mapping: each bounds what stays resident after it.
	for _, tc := range []struct {
		name               string
		off, end           int64
		minAfter, maxAfter int64
	}{
		{"empty range", 100, 100, before, size},
		{"inside one page", 10, page - 10, before, size},
		{"out of range", size, size + 1<<20, before, size},
		{"first half, unaligned", 1, size / 2, 0, size/2 + page},
		{"all, clipped", -5, size + 5, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.Release(tc.off, tc.end)
			got, err := Resident(m.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if got < tc.minAfter || got > tc.maxAfter {
				t.Fatalf("%d bytes resident after Release(%d, %d), want %d to %d", got, tc.off, tc.end, tc.minAfter, tc.maxAfter)
			}
		})
	}
	if !bytes.Equal(m.Bytes(), want) {
		t.Fatal("released pages read back different bytes")
	}
	var nilFile *File
	nilFile.Release(0, 1)
}
