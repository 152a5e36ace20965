package codec

import (
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"
)

// llamaDir returns the shakespeare-llama fixture folder in ../shared, skipping the test when
// it is absent.
func llamaDir(t testing.TB) string {
	return filepath.Join(testfixtures.Shared(t), "fixtures", "shakespeare-llama")
}
