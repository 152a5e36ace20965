package gguf

import (
	"fmt"

	"github.com/mcompress/mcompress/internal/atomicfile"
)

// WriteFile writes a GGUF file at path atomically: the header for md and tensors is written, then
// fill streams the tensor data through the Writer in order. On any error, including one from
// fill, no file is left at path.
func WriteFile(path string, md Metadata, tensors []TensorInfo, fill func(*Writer) error) error {
	af, w, err := create(path, md, tensors)
	if err != nil {
		return err
	}
	defer af.Abort()
	if fill != nil {
		if err := fill(w); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	return af.Commit()
}

// create starts the temporary file for path and writes the header; the caller must Abort or
// Commit the file.
func create(path string, md Metadata, tensors []TensorInfo) (*atomicfile.File, *Writer, error) {
	af, err := atomicfile.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("gguf: %w", err)
	}
	w, err := NewWriter(af, md, tensors)
	if err != nil {
		af.Abort()
		return nil, nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	return af, w, nil
}
