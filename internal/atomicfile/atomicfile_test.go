package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")

	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("partial")
	f.Abort()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("aborted file exists: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("temporary files left behind: %v", ents)
	}

	if err := WriteFile(p, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "whole" {
		t.Fatalf("got %q, %v", got, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("want only the output, got %v", ents)
	}
}

func TestRemovePending(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(filepath.Join(dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("data")
	f.Flush()
	RemovePending()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("pending temporary file not removed: %v", ents)
	}
	f.Abort()
}

func TestUnwritableFolder(t *testing.T) {
	if _, err := Create(filepath.Join(t.TempDir(), "missing", "x")); err == nil {
		t.Fatal("want error for a missing folder")
	}
}
