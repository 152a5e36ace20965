package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Writer streams a GGUF file: the header is written by NewWriter from the metadata and the tensor
// descriptions, then tensor data is written in the same order the descriptions were given,
// whole (WriteTensor) or in pieces (Write). Only one tensor's bytes ever pass through it at a
// time, so a model of any size is written in bounded memory.
type Writer struct {
	w         io.Writer
	tensors   []TensorInfo
	alignment uint64
	cur       int    // index of the tensor being written
	written   uint64 // bytes of the current tensor written so far
	pos       uint64 // bytes written to w in all
	err       error
}

// NewWriter writes the GGUF v3 header for md and tensors to w and returns a Writer ready for
// the first tensor's data. Tensor offsets are computed here (the Offset fields of tensors are
// ignored): data is packed in the given order, each tensor padded to the alignment, which is
// general.alignment from md when present (it must be a uint32 power of two) or 32.
func NewWriter(w io.Writer, md Metadata, tensors []TensorInfo) (*Writer, error) {
	gw := &Writer{w: w, alignment: DefaultAlignment}
	if v, ok := md.Lookup("general.alignment"); ok {
		a, isU32 := v.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("gguf: general.alignment must be a uint32 power of two, got %v (%T)", v, v)
		}
		gw.alignment = uint64(a)
	}
	gw.tensors = make([]TensorInfo, len(tensors))
	names := make(map[string]bool, len(tensors))
	var off uint64
	for i, t := range tensors {
		if err := validateInfo(t); err != nil {
			return nil, err
		}
		if names[t.Name] {
			return nil, fmt.Errorf("gguf: duplicate tensor name %q", t.Name)
		}
		names[t.Name] = true
		t.Dims = append([]uint64(nil), t.Dims...)
		t.Offset = off
		gw.tensors[i] = t
		off = alignUp(off+t.Size(), gw.alignment)
	}
	keys := make(map[string]bool, len(md))
	var e encoder
	e.bytes([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(md)))
	for _, kv := range md {
		if keys[kv.Key] {
			return nil, fmt.Errorf("gguf: duplicate metadata key %q", kv.Key)
		}
		keys[kv.Key] = true
		e.str(kv.Key)
		vt, err := TypeOf(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("gguf: metadata %q: %w", kv.Key, err)
		}
		e.u32(uint32(vt))
		if err := e.value(kv.Value, 0); err != nil {
			return nil, fmt.Errorf("gguf: metadata %q: %w", kv.Key, err)
		}
	}
	for _, t := range gw.tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
	}
	if err := gw.emit(e.buf); err != nil {
		return nil, err
	}
	// llama.cpp pads the header to the alignment only when a data section follows.
	if len(gw.tensors) > 0 {
		if err := gw.pad(); err != nil {
			return nil, err
		}
	}
	return gw, nil
}

// Tensors returns the tensor descriptions with their computed offsets.
func (w *Writer) Tensors() []TensorInfo { return w.tensors }

// DataSize returns the size of the data section the writer will produce.
func (w *Writer) DataSize() uint64 {
	if len(w.tensors) == 0 {
		return 0
	}
	last := w.tensors[len(w.tensors)-1]
	return alignUp(last.Offset+last.Size(), w.alignment)
}

// Write appends p to the data of the current tensor, moving on to the next tensor when one is
// complete. p may span tensors. Writing more bytes than the tensors hold is an error.
func (w *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if w.err != nil {
			return n, w.err
		}
		w.skipEmpty()
		if w.cur >= len(w.tensors) {
			return n, fmt.Errorf("gguf: %d bytes written past the last tensor", len(p))
		}
		t := w.tensors[w.cur]
		k := min(uint64(len(p)), t.Size()-w.written)
		if err := w.emit(p[:k]); err != nil {
			return n, err
		}
		n += int(k)
		p = p[k:]
		w.written += k
		if w.written == t.Size() {
			if err := w.pad(); err != nil {
				return n, err
			}
			w.cur++
			w.written = 0
		}
	}
	return n, nil
}

// WriteTensor writes the whole data of the next tensor, which must be named name.
func (w *Writer) WriteTensor(name string, data []byte) error {
	if w.cur >= len(w.tensors) {
		return fmt.Errorf("gguf: tensor %q: all %d tensors already written", name, len(w.tensors))
	}
	t := w.tensors[w.cur]
	if t.Name != name {
		return fmt.Errorf("gguf: tensor %q written out of order (expected %q)", name, t.Name)
	}
	if w.written != 0 || uint64(len(data)) != t.Size() {
		return fmt.Errorf("gguf: tensor %q: got %d bytes, want %d (%s %v)", name, len(data), t.Size(), t.Type, t.Dims)
	}
	if t.Size() == 0 {
		w.cur++
		return nil
	}
	_, err := w.Write(data)
	return err
}

// Close checks that every tensor was written in full. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.written == 0 {
		w.skipEmpty()
	}
	if w.cur < len(w.tensors) {
		return fmt.Errorf("gguf: tensor %q and %d more not written", w.tensors[w.cur].Name, len(w.tensors)-w.cur-1)
	}
	return nil
}

// skipEmpty moves past tensors without data (a zero dimension), which take no bytes.
func (w *Writer) skipEmpty() {
	for w.cur < len(w.tensors) && w.tensors[w.cur].Size() == 0 {
		w.cur++
	}
}

func (w *Writer) emit(p []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.w.Write(p)
	w.pos += uint64(n)
	if err != nil {
		w.err = fmt.Errorf("gguf: write: %w", err)
	}
	return w.err
}

var zeros [256]byte

func (w *Writer) pad() error {
	for n := alignUp(w.pos, w.alignment) - w.pos; n > 0; {
		k := min(n, uint64(len(zeros)))
		if err := w.emit(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func validateInfo(t TensorInfo) error {
	if t.Name == "" || len(t.Name) > MaxNameLen {
		return fmt.Errorf("gguf: tensor name %q must be 1 to %d bytes", t.Name, MaxNameLen)
	}
	if !t.Type.Valid() {
		return fmt.Errorf("gguf: tensor %q: unknown type %d", t.Name, uint32(t.Type))
	}
	if len(t.Dims) == 0 || len(t.Dims) > MaxDims {
		return fmt.Errorf("gguf: tensor %q: %d dimensions (want 1 to %d)", t.Name, len(t.Dims), MaxDims)
	}
	if t.Dims[0]%uint64(t.Type.BlockSize()) != 0 {
		return fmt.Errorf("gguf: tensor %q: row length %d is not a multiple of %s's block size %d", t.Name, t.Dims[0], t.Type, t.Type.BlockSize())
	}
	return nil
}

// encoder builds the header in memory (headers are small next to tensor data).
type encoder struct{ buf []byte }

func (e *encoder) bytes(b []byte) { e.buf = append(e.buf, b...) }
func (e *encoder) u8(v uint8)     { e.buf = append(e.buf, v) }
func (e *encoder) u16(v uint16)   { e.buf = binary.LittleEndian.AppendUint16(e.buf, v) }
func (e *encoder) u32(v uint32)   { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64)   { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }
func (e *encoder) str(s string)   { e.u64(uint64(len(s))); e.buf = append(e.buf, s...) }

func (e *encoder) value(v any, depth int) error {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case Array:
		if depth >= maxArrayDepth {
			return fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
		}
		return e.array(x, depth)
	default:
		return fmt.Errorf("no metadata type for Go type %T", v)
	}
	return nil
}

func (e *encoder) array(a Array, depth int) error {
	e.u32(uint32(a.Type))
	e.u64(uint64(a.Len()))
	check := func(ok bool) error {
		if !ok && a.Values != nil {
			return fmt.Errorf("array of %s holds %T", a.Type, a.Values)
		}
		return nil
	}
	switch a.Type {
	case ValueUint8:
		v, ok := a.Values.([]uint8)
		e.bytes(v)
		return check(ok)
	case ValueInt8:
		v, ok := a.Values.([]int8)
		for _, x := range v {
			e.u8(uint8(x))
		}
		return check(ok)
	case ValueUint16:
		v, ok := a.Values.([]uint16)
		for _, x := range v {
			e.u16(x)
		}
		return check(ok)
	case ValueInt16:
		v, ok := a.Values.([]int16)
		for _, x := range v {
			e.u16(uint16(x))
		}
		return check(ok)
	case ValueUint32:
		v, ok := a.Values.([]uint32)
		for _, x := range v {
			e.u32(x)
		}
		return check(ok)
	case ValueInt32:
		v, ok := a.Values.([]int32)
		for _, x := range v {
			e.u32(uint32(x))
		}
		return check(ok)
	case ValueFloat32:
		v, ok := a.Values.([]float32)
		for _, x := range v {
			e.u32(math.Float32bits(x))
		}
		return check(ok)
	case ValueBool:
		v, ok := a.Values.([]bool)
		for _, x := range v {
			if x {
				e.u8(1)
			} else {
				e.u8(0)
			}
		}
		return check(ok)
	case ValueString:
		v, ok := a.Values.([]string)
		for _, x := range v {
			e.str(x)
		}
		return check(ok)
	case ValueUint64:
		v, ok := a.Values.([]uint64)
		for _, x := range v {
			e.u64(x)
		}
		return check(ok)
	case ValueInt64:
		v, ok := a.Values.([]int64)
		for _, x := range v {
			e.u64(uint64(x))
		}
		return check(ok)
	case ValueFloat64:
		v, ok := a.Values.([]float64)
		for _, x := range v {
			e.u64(math.Float64bits(x))
		}
		return check(ok)
	case ValueArray:
		v, ok := a.Values.([]Array)
		for _, x := range v {
			if err := e.array(x, depth+1); err != nil {
				return err
			}
		}
		return check(ok)
	}
	return fmt.Errorf("unknown array element type %d", uint32(a.Type))
}
