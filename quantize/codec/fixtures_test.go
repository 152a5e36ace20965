package codec

import (
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"
)

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// llamaDir returns the shakespeare-llama fixture folder or skips.
func llamaDir(t testing.TB) string {
	return filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama")
}
