package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/mcompress/mcompress/internal/atomicfile"
)

// Writer streams a safetensors file: NewWriter writes the header for the tensor descriptions,
// then the data of each tensor follows in the same order, whole (WriteTensor) or in pieces
// (Write). Only the bytes the caller passes in are held, so a model of any size is written in
// bounded memory.
type Writer struct {
	w       io.Writer
	tensors []TensorInfo
	cur     int   // index of the tensor being written
	written int64 // bytes of the current tensor written so far
	err     error
}

// NewWriter writes the header for metadata (may be nil) and tensors to w and returns a Writer
// ready for the first tensor's data. The Begin and End fields of tensors are ignored: data are
// packed contiguously in the given order, and the header lists the tensors in that order, then
// "__metadata__", padded with spaces to a multiple of 8 bytes, as in the files transformers saves.
func NewWriter(w io.Writer, metadata map[string]string, tensors []TensorInfo) (*Writer, error) {
	sw := &Writer{w: w, tensors: make([]TensorInfo, len(tensors))}
	seen := make(map[string]bool, len(tensors))
	var off int64
	for i, t := range tensors {
		if t.Name == MetadataKey {
			return nil, fmt.Errorf("safetensors: %q is reserved and cannot name a tensor", MetadataKey)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("safetensors: duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		size, err := byteSize(t.DType, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
		if off > math.MaxInt64-size {
			return nil, fmt.Errorf("safetensors: tensor %q: total data size overflows", t.Name)
		}
		t.Shape = append([]int64(nil), t.Shape...)
		t.Begin, t.End = off, off+size
		off += size
		sw.tensors[i] = t
	}
	hdr := encodeHeader(metadata, sw.tensors)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if err := sw.emit(lenBuf[:]); err != nil {
		return nil, err
	}
	if err := sw.emit(hdr); err != nil {
		return nil, err
	}
	sw.skipEmpty()
	return sw, nil
}

// byteSize returns the data size of a tensor of type d and the given shape.
func byteSize(d DType, shape []int64) (int64, error) {
	if !d.Valid() {
		return 0, fmt.Errorf("unknown dtype %q", d)
	}
	bits := int64(d.Bits())
	n := int64(1)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if s != 0 && n > math.MaxInt64/bits/s {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= s
	}
	if n*bits%8 != 0 {
		return 0, fmt.Errorf("%d elements of %s do not fill whole bytes", n, d)
	}
	return n * bits / 8, nil
}

// encodeHeader renders the JSON header the way the files transformers saves look: compact, the
// tensors in data order, then "__metadata__" with its keys sorted, then spaces up to a multiple of
// 8 bytes.
func encodeHeader(metadata map[string]string, tensors []TensorInfo) []byte {
	b := []byte{'{'}
	first := true
	comma := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	for _, t := range tensors {
		comma()
		b = appendJSONString(b, t.Name)
		b = append(b, `:{"dtype":`...)
		b = appendJSONString(b, string(t.DType))
		b = append(b, `,"shape":[`...)
		for i, s := range t.Shape {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, s, 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, t.Begin, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, t.End, 10)
		b = append(b, ']', '}')
	}
	if len(metadata) > 0 {
		comma()
		b = appendJSONString(b, MetadataKey)
		b = append(b, ':', '{')
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, metadata[k])
		}
		b = append(b, '}')
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b
}

// appendJSONString quotes s as serde_json does: only '"', '\\' and control characters escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b = append(b, '\\', '"')
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Tensors returns the tensor descriptions with their computed offsets.
func (w *Writer) Tensors() []TensorInfo { return w.tensors }

// Write appends p to the data of the current tensor, moving on to the next one when a tensor is
// complete; p may span tensors. Writing more bytes than the tensors hold is an error.
func (w *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if w.err != nil {
			return n, w.err
		}
		if w.cur >= len(w.tensors) {
			return n, fmt.Errorf("safetensors: %d bytes written past the last tensor", len(p))
		}
		t := w.tensors[w.cur]
		k := min(int64(len(p)), t.Size()-w.written)
		if err := w.emit(p[:k]); err != nil {
			return n, err
		}
		n += int(k)
		p = p[k:]
		w.written += k
		if w.written == t.Size() {
			w.cur++
			w.written = 0
			w.skipEmpty()
		}
	}
	return n, nil
}

// WriteTensor writes the whole data of the next tensor, which must be named name.
func (w *Writer) WriteTensor(name string, data []byte) error {
	if len(data) == 0 && w.written == 0 {
		// Zero-size tensors are skipped as soon as the one before them is complete.
		for i := w.cur - 1; i >= 0 && w.tensors[i].Size() == 0; i-- {
			if w.tensors[i].Name == name {
				return nil
			}
		}
	}
	if w.cur >= len(w.tensors) {
		return fmt.Errorf("safetensors: tensor %q: all %d tensors already written", name, len(w.tensors))
	}
	t := w.tensors[w.cur]
	if t.Name != name {
		return fmt.Errorf("safetensors: tensor %q written out of order (expected %q)", name, t.Name)
	}
	if w.written != 0 || int64(len(data)) != t.Size() {
		return fmt.Errorf("safetensors: tensor %q: got %d bytes, want %d (%s %v)", name, len(data), t.Size(), t.DType, t.Shape)
	}
	_, err := w.Write(data)
	return err
}

// Close checks that every tensor was written in full. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.cur < len(w.tensors) {
		return fmt.Errorf("safetensors: tensor %q and %d more not written", w.tensors[w.cur].Name, len(w.tensors)-w.cur-1)
	}
	return nil
}

func (w *Writer) skipEmpty() {
	for w.cur < len(w.tensors) && w.tensors[w.cur].Size() == 0 {
		w.cur++
	}
}

func (w *Writer) emit(p []byte) error {
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Write(p); err != nil {
		w.err = fmt.Errorf("safetensors: write: %w", err)
	}
	return w.err
}

// WriteFile writes a safetensors file at path atomically: the header for metadata and tensors is
// written, then fill streams the data through the Writer in order. On any error, including one
// from fill, no file is left at path.
func WriteFile(path string, metadata map[string]string, tensors []TensorInfo, fill func(*Writer) error) error {
	af, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer af.Abort()
	w, err := NewWriter(af, metadata, tensors)
	if err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if fill != nil {
		if err := fill(w); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err := af.Commit(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
