// Package testfixtures locates the reference fixtures that tests compare against: the folder
// ../shared beside the repository root, made with independent tools (llama.cpp, PyTorch, DuckDB,
// arrow-rs, Arrow JS). Tests that need it skip with a clear message when it is absent.
package testfixtures

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Find returns the path of ../shared beside the repository root (the folder holding go.mod,
// found by walking up from the working directory), or an error saying why there is none.
func Find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory, so ../shared cannot be located")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if st, err := os.Stat(shared); err != nil || !st.IsDir() {
		return shared, fmt.Errorf("reference fixtures not found at %s (they sit at ../shared beside the repository root)", shared)
	}
	return shared, nil
}

// Shared returns the path of ../shared, skipping the test when it is absent.
func Shared(t testing.TB) string {
	t.Helper()
	dir, err := Find()
	if err != nil {
		t.Skip(err.Error())
	}
	return dir
}

// Path returns the path of elem under ../shared, skipping the test when it is absent.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Shared(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixture %s not present: %v", p, err)
	}
	return p
}
