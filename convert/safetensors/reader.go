// Package safetensors reads and writes safetensors files, the tensor format of Hugging Face
// checkpoints, single or sharded (model.safetensors.index.json).
//
// A file is an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name
// to its dtype, shape and [begin, end) byte range in the data section that follows (plus an
// optional "__metadata__" object of strings), then the data. Open memory-maps the file and
// validates the header strictly before handing out any tensor bytes: the header length is
// bounded by the file size, the JSON is a well-formed object without duplicate or unknown keys,
// every dtype is known, shape times element size equals the byte range, and the ranges are
// contiguous, non-overlapping and cover the data section exactly. Writer streams tensors to
// disk one at a time; WriteFile and WriteSharded publish their output atomically.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/mcompress/mcompress/internal/mmap"
)

// MaxHeaderSize is the largest JSON header accepted, in bytes (the reference implementation's
// limit).
const MaxHeaderSize = 100_000_000

// MetadataKey is the reserved header key holding free-form string metadata.
const MetadataKey = "__metadata__"

// ErrFormat is wrapped by every error about malformed safetensors content.
var ErrFormat = errors.New("malformed safetensors")

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	// Name is the tensor's name, such as "model.layers.0.mlp.up_proj.weight".
	Name string
	// DType is the element type.
	DType DType
	// Shape holds the dimensions in PyTorch order (row-major, last dimension contiguous).
	Shape []int64
	// Begin and End are the byte range of the data, relative to the start of the data section.
	Begin, End int64
}

// NumElements returns the product of the dimensions (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Size returns the data size in bytes.
func (t TensorInfo) Size() int64 { return t.End - t.Begin }

// File is a parsed safetensors file. Tensor data are slices of the memory map, valid until
// Close.
type File struct {
	// Path is the file's path ("<memory>" for Parse).
	Path string
	// Metadata holds the "__metadata__" strings, nil when the header has none.
	Metadata map[string]string
	// Tensors describes the tensors in header order.
	Tensors []TensorInfo
	// HeaderSize is the length of the JSON header in bytes.
	HeaderSize int64
	// DataOffset is the absolute file offset of the data section (8 + HeaderSize).
	DataOffset int64

	data  []byte
	m     *mmap.File
	index map[string]int
}

// Open memory-maps and parses the safetensors file at path.
func Open(path string) (*File, error) {
	m, err := mmap.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parse(m.Bytes(), path)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.m = m
	return f, nil
}

// Parse parses a safetensors file held in memory. The returned File refers to data.
func Parse(data []byte) (*File, error) { return parse(data, "<memory>") }

// Close releases the memory map. Slices returned by TensorData must not be used afterwards.
func (f *File) Close() error {
	if f.m == nil {
		return nil
	}
	err := f.m.Close()
	f.m, f.data = nil, nil
	return err
}

// Size returns the file size in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

// Tensor returns the description of the tensor named name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorIndex returns the position of the tensor named name in Tensors.
func (f *File) TensorIndex(name string) (int, bool) {
	i, ok := f.index[name]
	return i, ok
}

// TensorData returns the raw little-endian bytes of tensor i.
func (f *File) TensorData(i int) []byte {
	t := f.Tensors[i]
	a, b := f.DataOffset+t.Begin, f.DataOffset+t.End
	return f.data[a:b:b]
}

// TensorDataByName returns the raw bytes of the tensor named name.
func (f *File) TensorDataByName(name string) ([]byte, bool) {
	i, ok := f.index[name]
	if !ok {
		return nil, false
	}
	return f.TensorData(i), true
}

// Names returns the tensor names sorted in byte order, the order in which the Python
// safetensors library and llama.cpp's converter list them.
func (f *File) Names() []string {
	names := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		names[i] = t.Name
	}
	sort.Strings(names)
	return names
}

// Release tells the kernel that the pages of tensor i are no longer needed, so that streaming
// through a large file does not grow the resident set; the data stay readable (they are paged
// in again on access). It does nothing for files from Parse.
func (f *File) Release(i int) {
	if f.m == nil || i < 0 || i >= len(f.Tensors) {
		return
	}
	t := f.Tensors[i]
	f.m.Release(f.DataOffset+t.Begin, f.DataOffset+t.End)
}

// ReleaseRange is Release for bytes [off, end) of tensor i's data only (whole pages inside the
// range), for callers that stream through a large tensor in pieces.
func (f *File) ReleaseRange(i int, off, end int64) {
	if f.m == nil || i < 0 || i >= len(f.Tensors) {
		return
	}
	t := f.Tensors[i]
	off, end = max(off, 0), min(end, t.Size())
	if off < end {
		f.m.Release(f.DataOffset+t.Begin+off, f.DataOffset+t.Begin+end)
	}
}

// AdviseSequential tells the kernel the file will be read front to back (larger read-ahead).
// It does nothing for files from Parse.
func (f *File) AdviseSequential() {
	if f.m != nil {
		f.m.Advise()
	}
}

func parse(data []byte, path string) (f *File, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("safetensors: %s: %w", path, err)
		}
	}()
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: file is %d bytes, too short for the 8-byte header length (truncated?)", ErrFormat, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%w: header length %d exceeds the %d-byte limit", ErrFormat, n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("%w: header length %d past end of file (%d bytes after the length; truncated?)", ErrFormat, n, len(data)-8)
	}
	header := data[8 : 8+n]
	f = &File{Path: path, data: data, HeaderSize: int64(n), DataOffset: 8 + int64(n)}
	if err := f.parseHeader(header); err != nil {
		return nil, err
	}
	if err := f.checkOffsets(int64(len(data)) - f.DataOffset); err != nil {
		return nil, err
	}
	return f, nil
}

// parseHeader decodes the JSON header, keeping the tensors in header order.
func (f *File) parseHeader(h []byte) error {
	if len(h) == 0 || h[0] != '{' {
		return fmt.Errorf("%w: header does not start with '{'", ErrFormat)
	}
	if !utf8.Valid(h) {
		return fmt.Errorf("%w: header is not valid UTF-8", ErrFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(h))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%w: header JSON: %v", ErrFormat, err)
	}
	f.index = make(map[string]int)
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: header JSON: %v", ErrFormat, err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%w: header JSON: key %v is not a string", ErrFormat, tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%w: header JSON: value of %q: %v", ErrFormat, key, err)
		}
		if key == MetadataKey {
			if seenMeta {
				return fmt.Errorf("%w: duplicate %q", ErrFormat, MetadataKey)
			}
			seenMeta = true
			if err := f.parseMetadata(raw); err != nil {
				return err
			}
			continue
		}
		if _, dup := f.index[key]; dup {
			return fmt.Errorf("%w: duplicate tensor name %q", ErrFormat, key)
		}
		t, err := parseTensorInfo(key, raw)
		if err != nil {
			return err
		}
		f.index[key] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%w: header JSON: %v", ErrFormat, err)
	}
	// Only whitespace (writers pad with spaces) may follow the object.
	if rest := h[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return fmt.Errorf("%w: header JSON: data after the top-level object", ErrFormat)
	}
	return nil
}

func (f *File) parseMetadata(raw json.RawMessage) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%w: %q must be an object of strings: %v", ErrFormat, MetadataKey, err)
	}
	f.Metadata = make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%w: %q: value of %q is %T, not a string", ErrFormat, MetadataKey, k, v)
		}
		f.Metadata[k] = s
	}
	return nil
}

func parseTensorInfo(name string, raw json.RawMessage) (TensorInfo, error) {
	what := fmt.Sprintf("tensor %q", name)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return TensorInfo{}, fmt.Errorf("%w: %s: entry must be an object with dtype, shape and data_offsets", ErrFormat, what)
	}
	for k := range fields {
		if k != "dtype" && k != "shape" && k != "data_offsets" {
			return TensorInfo{}, fmt.Errorf("%w: %s: unknown field %q", ErrFormat, what, k)
		}
	}
	t := TensorInfo{Name: name}
	rawType, ok := fields["dtype"]
	if !ok {
		return TensorInfo{}, fmt.Errorf("%w: %s: dtype missing", ErrFormat, what)
	}
	var ds string
	if err := json.Unmarshal(rawType, &ds); err != nil {
		return TensorInfo{}, fmt.Errorf("%w: %s: dtype is not a string", ErrFormat, what)
	}
	dt, err := ParseDType(ds)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("%w: %s: %v", ErrFormat, what, err)
	}
	t.DType = dt
	shape, err := uintList(fields, "shape", what)
	if err != nil {
		return TensorInfo{}, err
	}
	t.Shape = make([]int64, len(shape))
	for i, d := range shape {
		t.Shape[i] = int64(d)
	}
	offs, err := uintList(fields, "data_offsets", what)
	if err != nil {
		return TensorInfo{}, err
	}
	if len(offs) != 2 {
		return TensorInfo{}, fmt.Errorf("%w: %s: data_offsets has %d values, want 2", ErrFormat, what, len(offs))
	}
	if offs[0] > offs[1] {
		return TensorInfo{}, fmt.Errorf("%w: %s: data_offsets [%d, %d) end before begin", ErrFormat, what, offs[0], offs[1])
	}
	t.Begin, t.End = int64(offs[0]), int64(offs[1])
	// shape x element size must equal the byte range, computed without overflow.
	bits := uint64(dt.Bits())
	nelem := uint64(1)
	for _, d := range shape {
		if d != 0 && nelem > math.MaxInt64/bits/d {
			return TensorInfo{}, fmt.Errorf("%w: %s: shape %v overflows", ErrFormat, what, shape)
		}
		nelem *= d
	}
	if nelem*bits%8 != 0 {
		return TensorInfo{}, fmt.Errorf("%w: %s: %d elements of %s do not fill whole bytes", ErrFormat, what, nelem, dt)
	}
	if want := nelem * bits / 8; want != offs[1]-offs[0] {
		return TensorInfo{}, fmt.Errorf("%w: %s: shape %v of %s needs %d bytes but data_offsets [%d, %d) hold %d",
			ErrFormat, what, shape, dt, want, offs[0], offs[1], offs[1]-offs[0])
	}
	return t, nil
}

// uintList decodes fields[key] as a JSON array of non-negative integers below 2^63.
func uintList(fields map[string]json.RawMessage, key, what string) ([]uint64, error) {
	raw, ok := fields[key]
	if !ok {
		return nil, fmt.Errorf("%w: %s: %s missing", ErrFormat, what, key)
	}
	var nums []json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&nums); err != nil || nums == nil {
		return nil, fmt.Errorf("%w: %s: %s must be an array of integers", ErrFormat, what, key)
	}
	out := make([]uint64, len(nums))
	for i, n := range nums {
		v, err := strconv.ParseUint(n.String(), 10, 63)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s[%d] = %s is not an integer in [0, 2^63)", ErrFormat, what, key, i, n)
		}
		out[i] = v
	}
	return out, nil
}

// checkOffsets verifies that the byte ranges tile the data section exactly: sorted by begin,
// each starts where the previous ended, the first at 0 and the last at the end of the file.
func (f *File) checkOffsets(dataLen int64) error {
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ta, tb := f.Tensors[order[a]], f.Tensors[order[b]]
		if ta.Begin != tb.Begin {
			return ta.Begin < tb.Begin
		}
		return ta.End < tb.End
	})
	var pos int64
	prev := ""
	for _, i := range order {
		t := f.Tensors[i]
		switch {
		case t.Begin < pos:
			return fmt.Errorf("%w: tensor %q: data_offsets [%d, %d) overlap tensor %q (which ends at %d)", ErrFormat, t.Name, t.Begin, t.End, prev, pos)
		case t.Begin > pos:
			if prev == "" {
				return fmt.Errorf("%w: tensor %q: data starts at %d, leaving bytes [0, %d) of the data section unused", ErrFormat, t.Name, t.Begin, t.Begin)
			}
			return fmt.Errorf("%w: tensor %q: data_offsets [%d, %d) leave a gap after tensor %q (which ends at %d)", ErrFormat, t.Name, t.Begin, t.End, prev, pos)
		}
		if t.End > dataLen {
			return fmt.Errorf("%w: tensor %q: data_offsets [%d, %d) past end of file (data section is %d bytes; truncated?)", ErrFormat, t.Name, t.Begin, t.End, dataLen)
		}
		pos, prev = t.End, t.Name
	}
	if pos != dataLen {
		return fmt.Errorf("%w: tensors cover %d bytes but the data section holds %d (trailing bytes)", ErrFormat, pos, dataLen)
	}
	return nil
}
