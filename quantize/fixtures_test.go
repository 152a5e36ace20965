package quantize

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedDir returns ../shared beside the repository root (the folder holding go.mod), or skips
// the test when it is absent.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory; cannot locate ../shared")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(filepath.Join(shared, "fixtures", "shakespeare-llama")); err != nil {
		t.Skipf("shared fixtures not found at %s (they sit beside the repository); skipping", shared)
	}
	return shared
}

// llamaDir returns the shakespeare-llama fixture folder or skips.
func llamaDir(t testing.TB) string {
	return filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama")
}
