package gguf

import (
	"fmt"
	"os"
	"sync/atomic"
)

// TensorWriterAt places tensor data at its offset in a GGUF file being written by WriteFileAt.
// Its WriteAt may be called from many goroutines at once, for disjoint ranges, in any order:
// the file's bytes do not depend on the order, so parallel writers still give deterministic
// output.
type TensorWriterAt struct {
	f         *os.File
	tensors   []TensorInfo
	dataStart uint64
	written   atomic.Uint64
}

// Tensors returns the tensor infos with their offsets in the data section.
func (w *TensorWriterAt) Tensors() []TensorInfo { return w.tensors }

// WriteAt writes p into tensor i's data at byte offset off of that tensor. Every byte of every
// tensor must be written exactly once before fill returns.
func (w *TensorWriterAt) WriteAt(i int, off uint64, p []byte) error {
	if i < 0 || i >= len(w.tensors) {
		return fmt.Errorf("gguf: tensor index %d out of range (%d tensors)", i, len(w.tensors))
	}
	t := w.tensors[i]
	if off > t.Size() || uint64(len(p)) > t.Size()-off {
		return fmt.Errorf("gguf: tensor %q: %d bytes at offset %d overrun its %d bytes", t.Name, len(p), off, t.Size())
	}
	if _, err := w.f.WriteAt(p, int64(w.dataStart+t.Offset+off)); err != nil {
		return fmt.Errorf("gguf: tensor %q: write: %w", t.Name, err)
	}
	w.written.Add(uint64(len(p)))
	return nil
}

// WriteFileAt writes a GGUF file at path atomically, like WriteFile, except that fill places
// the tensor data with TensorWriterAt.WriteAt, from as many goroutines as it likes: the header
// is written first and the file sized to its final length (alignment padding is the zeros of
// the file's unwritten ranges). When fill returns without error, the bytes written must add up
// to the tensors' sizes. On any error no file is left at path.
func WriteFileAt(path string, md Metadata, tensors []TensorInfo, fill func(*TensorWriterAt) error) error {
	af, w, err := create(path, md, tensors)
	if err != nil {
		return err
	}
	defer af.Abort()
	if err := af.Flush(); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	tw := &TensorWriterAt{f: af.File(), tensors: w.Tensors(), dataStart: w.pos}
	if err := tw.f.Truncate(int64(w.pos + w.DataSize())); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	var want uint64
	for _, t := range tw.tensors {
		want += t.Size()
	}
	if fill != nil {
		if err := fill(tw); err != nil {
			return err
		}
	}
	if got := tw.written.Load(); got != want {
		return fmt.Errorf("gguf: %s: %d of the tensors' %d bytes written", path, got, want)
	}
	return af.Commit()
}
