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
