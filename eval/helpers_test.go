package eval

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/internal/testfixtures"
)

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

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
