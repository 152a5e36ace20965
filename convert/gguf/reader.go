// Package gguf reads and writes GGUF files, the model format of llama.cpp and ollama.
//
// The format (version 3, little-endian) is a header of metadata key-value pairs and tensor
// descriptions followed by aligned tensor data. Reader memory-maps the file and validates every
// size and offset against the file's real length before allocating; Writer streams tensors to
// disk one at a time. The package knows every ggml tensor type's block geometry but not how to
// quantize: see package quantize for that.
package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/mcompress/mcompress/internal/mmap"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// DefaultAlignment is the tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

// MaxDims is the largest number of dimensions a ggml tensor has.
const MaxDims = 4

// MaxNameLen is the longest tensor name llama.cpp accepts, in bytes (GGML_MAX_NAME - 1).
const MaxNameLen = 63

// minTensorInfo and minKV are the fewest bytes a tensor description (empty name, no
// dimensions) and a metadata pair (empty key, one-byte value) take in the header.
const (
	minTensorInfo = 8 + 4 + 4 + 8
	minKV         = 8 + 4 + 1
)

// maxArrayDepth bounds the nesting of arrays of arrays.
const maxArrayDepth = 8

// ErrFormat is wrapped by every error about malformed GGUF content.
var ErrFormat = errors.New("malformed GGUF")

// TensorInfo describes one tensor in a GGUF file.
type TensorInfo struct {
	// Name is the tensor's name, such as "blk.0.attn_q.weight".
	Name string
	// Type is the ggml storage type.
	Type TensorType
	// Dims are the dimensions in ggml order: Dims[0] is the contiguous row length (the number of
	// columns), so a PyTorch weight of shape [out, in] has Dims [in, out].
	Dims []uint64
	// Offset is the byte offset of the data from the start of the data section.
	Offset uint64
}

// NumElements returns the product of the dimensions.
func (t TensorInfo) NumElements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Size returns the tensor's data size in bytes (0 for an unknown type).
func (t TensorInfo) Size() uint64 {
	bs := uint64(t.Type.BlockSize())
	if bs == 0 {
		return 0
	}
	return t.NumElements() / bs * uint64(t.Type.TypeSize())
}

// Rows returns the number of rows (the product of all dimensions but the first).
func (t TensorInfo) Rows() uint64 {
	if len(t.Dims) == 0 {
		return 1
	}
	return t.NumElements() / max(t.Dims[0], 1)
}

// File is a parsed GGUF file. Tensor data are slices of the memory map, valid until Close.
type File struct {
	// Path is the file's path ("" for Parse).
	Path string
	// Version is the GGUF version (2 or 3).
	Version uint32
	// Metadata holds the key-value pairs in file order.
	Metadata Metadata
	// Tensors describes the tensors in file order.
	Tensors []TensorInfo
	// Alignment is the data alignment (general.alignment or 32).
	Alignment uint64
	// DataOffset is the absolute file offset of the data section.
	DataOffset uint64

	data  []byte
	m     *mmap.File
	index map[string]int
}

// Open memory-maps and parses the GGUF file at path.
func Open(path string) (*File, error) {
	m, err := mmap.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := parse(m.Bytes(), path)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.m = m
	return f, nil
}

// Parse parses a GGUF file held in memory. The returned File refers to data.
func Parse(data []byte) (*File, error) { return parse(data, "") }

// Close releases the memory map.
func (f *File) Close() error {
	if f.m == nil {
		return nil
	}
	err := f.m.Close()
	f.m, f.data = nil, nil
	return err
}

// Size returns the file's size in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

// TensorIndex returns the position of the tensor named name in Tensors.
func (f *File) TensorIndex(name string) (int, bool) {
	i, ok := f.index[name]
	return i, ok
}

// Tensor returns the description of the tensor named name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorData returns the raw bytes of tensor i (validated to lie within the file).
func (f *File) TensorData(i int) []byte {
	t := f.Tensors[i]
	start := f.DataOffset + t.Offset
	return f.data[start : start+t.Size() : start+t.Size()]
}

// Release tells the kernel that the pages of tensor i's data are no longer needed, so that
// streaming through a large file does not grow the resident set; the data stay readable (they
// are paged in again on access). It does nothing for files from Parse.
func (f *File) Release(i int) {
	if f.m == nil || i < 0 || i >= len(f.Tensors) {
		return
	}
	t := f.Tensors[i]
	start := int64(f.DataOffset + t.Offset)
	f.m.Release(start, start+int64(t.Size()))
}

// TensorDataByName returns the raw bytes of the tensor named name.
func (f *File) TensorDataByName(name string) ([]byte, bool) {
	i, ok := f.index[name]
	if !ok {
		return nil, false
	}
	return f.TensorData(i), true
}

// Architecture returns general.architecture, or "" if absent.
func (f *File) Architecture() string {
	s, _ := f.Metadata.String("general.architecture")
	return s
}

// decoder reads little-endian values from a byte slice with bounds checks.
type decoder struct {
	b   []byte
	off int
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) need(n int, what string) error {
	if n < 0 || d.remaining() < n {
		return fmt.Errorf("%w: %s at offset %d needs %d bytes, %d left in file", ErrFormat, what, d.off, n, d.remaining())
	}
	return nil
}

func (d *decoder) u8(what string) (uint8, error) {
	if err := d.need(1, what); err != nil {
		return 0, err
	}
	v := d.b[d.off]
	d.off++
	return v, nil
}

func (d *decoder) u16(what string) (uint16, error) {
	if err := d.need(2, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	if err := d.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *decoder) u64(what string) (uint64, error) {
	if err := d.need(8, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v, nil
}

func (d *decoder) str(what string) (string, error) {
	n, err := d.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(d.remaining()) {
		return "", fmt.Errorf("%w: %s at offset %d: length %d past end of file (%d bytes left)", ErrFormat, what, d.off-8, n, d.remaining())
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s, nil
}

// count reads an element count and checks that n elements of at least minSize bytes fit.
func (d *decoder) count(what string, minSize int) (int, error) {
	n, err := d.u64(what)
	if err != nil {
		return 0, err
	}
	if minSize > 0 && n > uint64(d.remaining()/minSize) {
		return 0, fmt.Errorf("%w: %s %d at offset %d cannot fit in the %d bytes left", ErrFormat, what, n, d.off-8, d.remaining())
	}
	return int(n), nil
}

func parse(data []byte, path string) (f *File, err error) {
	name := path
	if name == "" {
		name = "<memory>"
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("gguf: %s: %w", name, err)
		}
	}()
	switch {
	case len(data) < len(Magic):
		return nil, fmt.Errorf("%w: not a GGUF file: %d bytes, too short for the %q magic", ErrFormat, len(data), Magic)
	case string(data[:4]) == "FUGG":
		return nil, fmt.Errorf("%w: byte-swapped magic", ErrFormat)
	case string(data[:4]) != Magic:
		return nil, fmt.Errorf("%w: not a GGUF file: magic %q, want %q", ErrFormat, data[:4], Magic)
	}
	d := &decoder{b: data, off: 4}
	version, err := d.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 2 || version == 3:
	case version&0xFFFF == 0 && version != 0:
		return nil, fmt.Errorf("%w: big-endian GGUF (version field reads %#x); only little-endian files are supported", ErrFormat, version)
	case version == 1:
		return nil, fmt.Errorf("%w: GGUF version 1 is obsolete and not supported; reconvert the model", ErrFormat)
	default:
		return nil, fmt.Errorf("%w: unsupported GGUF version %d (want 2 or 3)", ErrFormat, version)
	}
	nTensors, err := d.count("tensor count", minTensorInfo)
	if err != nil {
		return nil, err
	}
	nKV, err := d.count("metadata count", minKV)
	if err != nil {
		return nil, err
	}
	// Each count fits on its own; together they must fit too, before either sizes anything.
	if need := uint64(nTensors)*minTensorInfo + uint64(nKV)*minKV; need > uint64(d.remaining()) {
		return nil, fmt.Errorf("%w: tensor count %d and metadata count %d need at least %d bytes, %d left in file",
			ErrFormat, nTensors, nKV, need, d.remaining())
	}
	f = &File{Path: path, Version: version, data: data, Alignment: DefaultAlignment}
	f.Metadata = make(Metadata, 0, nKV)
	seen := make(map[string]bool, nKV)
	for i := 0; i < nKV; i++ {
		key, err := d.str(fmt.Sprintf("metadata key %d", i))
		if err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: duplicate metadata key %q", ErrFormat, key)
		}
		seen[key] = true
		vt, err := d.u32(fmt.Sprintf("type of %q", key))
		if err != nil {
			return nil, err
		}
		v, err := d.value(ValueType(vt), key, 0)
		if err != nil {
			return nil, err
		}
		f.Metadata = append(f.Metadata, KV{key, v})
	}
	if v, ok := f.Metadata.Lookup("general.alignment"); ok {
		a, isU32 := v.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("%w: general.alignment must be a uint32 power of two, got %v (%T)", ErrFormat, v, v)
		}
		f.Alignment = uint64(a)
	}
	f.Tensors = make([]TensorInfo, nTensors)
	f.index = make(map[string]int, nTensors)
	for i := range f.Tensors {
		t, err := d.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.index[t.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate tensor name %q", ErrFormat, t.Name)
		}
		f.index[t.Name] = i
		f.Tensors[i] = t
	}
	f.DataOffset = alignUp(uint64(d.off), f.Alignment)
	if nTensors > 0 && f.DataOffset > uint64(len(data)) {
		return nil, fmt.Errorf("%w: data section at %d past end of file (%d bytes)", ErrFormat, f.DataOffset, len(data))
	}
	if err := f.checkTensorData(); err != nil {
		return nil, err
	}
	return f, nil
}

func (d *decoder) tensorInfo(i int) (TensorInfo, error) {
	name, err := d.str(fmt.Sprintf("tensor %d name", i))
	if err != nil {
		return TensorInfo{}, err
	}
	what := fmt.Sprintf("tensor %q", name)
	nd, err := d.u32(what + " dimension count")
	if err != nil {
		return TensorInfo{}, err
	}
	if nd > MaxDims {
		return TensorInfo{}, fmt.Errorf("%w: %s has %d dimensions (at most %d)", ErrFormat, what, nd, MaxDims)
	}
	dims := make([]uint64, nd)
	n := uint64(1)
	for j := range dims {
		if dims[j], err = d.u64(what + " dimension"); err != nil {
			return TensorInfo{}, err
		}
		if dims[j] > math.MaxInt64 || (dims[j] != 0 && n > math.MaxInt64/dims[j]) {
			return TensorInfo{}, fmt.Errorf("%w: %s: dimensions %v overflow", ErrFormat, what, dims[:j+1])
		}
		n *= dims[j]
	}
	typ, err := d.u32(what + " type")
	if err != nil {
		return TensorInfo{}, err
	}
	tt := TensorType(typ)
	if !tt.Valid() {
		return TensorInfo{}, fmt.Errorf("%w: %s has unknown type %d", ErrFormat, what, typ)
	}
	if nd > 0 && dims[0]%uint64(tt.BlockSize()) != 0 {
		return TensorInfo{}, fmt.Errorf("%w: %s: row length %d is not a multiple of %s's block size %d", ErrFormat, what, dims[0], tt, tt.BlockSize())
	}
	off, err := d.u64(what + " offset")
	if err != nil {
		return TensorInfo{}, err
	}
	return TensorInfo{Name: name, Type: tt, Dims: dims, Offset: off}, nil
}

// checkTensorData verifies alignment, bounds and non-overlap of every tensor's data.
func (f *File) checkTensorData() error {
	avail := uint64(0)
	if f.DataOffset <= uint64(len(f.data)) {
		avail = uint64(len(f.data)) - f.DataOffset
	}
	order := make([]int, len(f.Tensors))
	for i, t := range f.Tensors {
		order[i] = i
		if t.Offset%f.Alignment != 0 {
			return fmt.Errorf("%w: tensor %q: offset %d not aligned to %d", ErrFormat, t.Name, t.Offset, f.Alignment)
		}
		size := t.Size()
		if t.Offset > avail || size > avail-t.Offset {
			return fmt.Errorf("%w: tensor %q: data [%d, %d) past end of file (%d data bytes; file truncated?)", ErrFormat, t.Name, t.Offset, t.Offset+size, avail)
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		p, q := f.Tensors[order[k-1]], f.Tensors[order[k]]
		if p.Size() > 0 && q.Offset < p.Offset+p.Size() {
			return fmt.Errorf("%w: tensors %q and %q overlap", ErrFormat, p.Name, q.Name)
		}
	}
	return nil
}

func (d *decoder) value(t ValueType, key string, depth int) (any, error) {
	what := fmt.Sprintf("value of %q", key)
	switch t {
	case ValueUint8:
		return d.u8(what)
	case ValueInt8:
		v, err := d.u8(what)
		return int8(v), err
	case ValueUint16:
		return d.u16(what)
	case ValueInt16:
		v, err := d.u16(what)
		return int16(v), err
	case ValueUint32:
		return d.u32(what)
	case ValueInt32:
		v, err := d.u32(what)
		return int32(v), err
	case ValueFloat32:
		v, err := d.u32(what)
		return math.Float32frombits(v), err
	case ValueBool:
		v, err := d.u8(what)
		if err == nil && v > 1 {
			return nil, fmt.Errorf("%w: %s: bool byte %d is neither 0 nor 1", ErrFormat, what, v)
		}
		return v == 1, err
	case ValueString:
		return d.str(what)
	case ValueUint64:
		return d.u64(what)
	case ValueInt64:
		v, err := d.u64(what)
		return int64(v), err
	case ValueFloat64:
		v, err := d.u64(what)
		return math.Float64frombits(v), err
	case ValueArray:
		if depth >= maxArrayDepth {
			return nil, fmt.Errorf("%w: %s: arrays nested deeper than %d", ErrFormat, what, maxArrayDepth)
		}
		et, err := d.u32(what + " element type")
		if err != nil {
			return nil, err
		}
		return d.array(ValueType(et), key, depth)
	}
	return nil, fmt.Errorf("%w: %s: unknown value type %d", ErrFormat, what, uint32(t))
}

func (d *decoder) array(et ValueType, key string, depth int) (Array, error) {
	what := fmt.Sprintf("array %q", key)
	minSize := et.fixedSize()
	switch et {
	case ValueString, ValueUint64, ValueInt64, ValueFloat64:
		minSize = 8
	case ValueArray:
		minSize = 12
	}
	if minSize == 0 {
		return Array{}, fmt.Errorf("%w: %s: unknown element type %d", ErrFormat, what, uint32(et))
	}
	n, err := d.count(what+" length", minSize)
	if err != nil {
		return Array{}, err
	}
	a := Array{Type: et}
	if fs := et.fixedSize(); fs > 0 {
		raw := d.b[d.off : d.off+n*fs]
		d.off += n * fs
		a.Values, err = decodeFixed(et, raw, n)
		return a, err
	}
	switch et {
	case ValueString:
		s := make([]string, n)
		for i := range s {
			if s[i], err = d.str(what + " element"); err != nil {
				return Array{}, err
			}
		}
		a.Values = s
	case ValueArray:
		s := make([]Array, n)
		for i := range s {
			sub, err := d.u32(what + " element type")
			if err != nil {
				return Array{}, err
			}
			if depth+1 >= maxArrayDepth {
				return Array{}, fmt.Errorf("%w: %s: arrays nested deeper than %d", ErrFormat, what, maxArrayDepth)
			}
			if s[i], err = d.array(ValueType(sub), key, depth+1); err != nil {
				return Array{}, err
			}
		}
		a.Values = s
	}
	return a, nil
}

func decodeFixed(et ValueType, raw []byte, n int) (any, error) {
	le := binary.LittleEndian
	switch et {
	case ValueUint8:
		return bytes.Clone(raw), nil
	case ValueInt8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(raw[i])
		}
		return v, nil
	case ValueBool:
		v := make([]bool, n)
		for i := range v {
			if raw[i] > 1 {
				return nil, fmt.Errorf("%w: bool array element %d is %d", ErrFormat, i, raw[i])
			}
			v[i] = raw[i] == 1
		}
		return v, nil
	case ValueUint16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = le.Uint16(raw[2*i:])
		}
		return v, nil
	case ValueInt16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(le.Uint16(raw[2*i:]))
		}
		return v, nil
	case ValueUint32:
		v := make([]uint32, n)
		for i := range v {
			v[i] = le.Uint32(raw[4*i:])
		}
		return v, nil
	case ValueInt32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(raw[4*i:]))
		}
		return v, nil
	case ValueFloat32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return v, nil
	case ValueUint64:
		v := make([]uint64, n)
		for i := range v {
			v[i] = le.Uint64(raw[8*i:])
		}
		return v, nil
	case ValueInt64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(raw[8*i:]))
		}
		return v, nil
	case ValueFloat64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return v, nil
	}
	return nil, fmt.Errorf("%w: unknown element type %d", ErrFormat, uint32(et))
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
