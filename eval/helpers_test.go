package eval

import (
	"github.com/mcompress/mcompress/datasets"
	"os"
	"path/filepath"
	"testing"
)

// sharedDir returns ../shared beside the repository root, skipping the test when absent.
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
			t.Skip("no go.mod above the package; cannot locate ../shared")
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("shared fixtures not found at %s: %v", shared, err)
	}
	return shared
}

// fixtureDir returns the shakespeare-llama fixture folder, skipping when absent.
func fixtureDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama")
	if _, err := os.Stat(filepath.Join(d, "reference-quality.json")); err != nil {
		t.Skipf("shakespeare-llama fixture not found: %v", err)
	}
	return d
}

// defaultDataOptions are the zero datasets options.
var defaultDataOptions = datasets.Options{}
