package eval

import (
	"io"

	"github.com/mcompress/mcompress/internal/atomicfile"
)

// writeAtomically runs fn with a writer to a temporary file beside path and renames it to
// path only when fn succeeds; on error no file is left behind.
func writeAtomically[T any](path string, fn func(w io.Writer) (T, error)) (T, error) {
	var zero T
	f, err := atomicfile.Create(path)
	if err != nil {
		return zero, err
	}
	defer f.Abort()
	v, err := fn(f)
	if err != nil {
		return zero, err
	}
	if err := f.Commit(); err != nil {
		return zero, err
	}
	return v, nil
}
