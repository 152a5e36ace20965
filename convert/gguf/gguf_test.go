package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"
)

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// sampleMetadata covers every value type, nested arrays and empty arrays.
func sampleMetadata() Metadata {
	return Metadata{
		{"general.architecture", "llama"},
		{"u8", uint8(200)}, {"i8", int8(-5)}, {"u16", uint16(65000)}, {"i16", int16(-300)},
		{"u32", uint32(1 << 31)}, {"i32", int32(-1 << 30)}, {"f32", float32(1.5)}, {"b", true},
		{"u64", uint64(1 << 60)}, {"i64", int64(-1 << 60)}, {"f64", math.Pi}, {"s", "héllo"},
		{"a.str", Array{ValueString, []string{"a", "", "ccc"}}},
		{"a.f32", Array{ValueFloat32, []float32{1, -2, float32(math.Inf(1))}}},
		{"a.i32", Array{ValueInt32, []int32{1, -2, 3}}},
		{"a.u8", Array{ValueUint8, []uint8{1, 2}}},
		{"a.bool", Array{ValueBool, []bool{true, false}}},
		{"a.empty", Array{ValueInt64, []int64{}}},
		{"a.nested", Array{ValueArray, []Array{{ValueString, []string{"x"}}, {ValueUint16, []uint16{7, 8}}}}},
	}
}

func sampleTensors() ([]TensorInfo, [][]byte) {
	infos := []TensorInfo{
		{Name: "a", Type: TypeF32, Dims: []uint64{3, 2}},
		{Name: "b", Type: TypeQ4_0, Dims: []uint64{64}},
		{Name: "c", Type: TypeF16, Dims: []uint64{5}},
	}
	var data [][]byte
	for i, t := range infos {
		b := make([]byte, t.Size())
		for j := range b {
			b[j] = byte(i*31 + j)
		}
		data = append(data, b)
	}
	return infos, data
}

func encode(t testing.TB, md Metadata, infos []TensorInfo, data [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, md, infos)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range data {
		if err := w.WriteTensor(infos[i].Name, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	md := sampleMetadata()
	infos, data := sampleTensors()
	raw := encode(t, md, infos, data)
	f, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, md) {
		t.Fatalf("metadata differs:\n got %#v\nwant %#v", f.Metadata, md)
	}
	if len(f.Tensors) != len(infos) {
		t.Fatalf("got %d tensors", len(f.Tensors))
	}
	for i, ti := range f.Tensors {
		if ti.Name != infos[i].Name || ti.Type != infos[i].Type || !reflect.DeepEqual(ti.Dims, infos[i].Dims) {
			t.Errorf("tensor %d: got %+v want %+v", i, ti, infos[i])
		}
		if ti.Offset%f.Alignment != 0 {
			t.Errorf("tensor %q misaligned at %d", ti.Name, ti.Offset)
		}
		if !bytes.Equal(f.TensorData(i), data[i]) {
			t.Errorf("tensor %q data differs", ti.Name)
		}
	}
	if len(raw)%DefaultAlignment != 0 {
		t.Errorf("file size %d not padded to the alignment", len(raw))
	}
	// Streaming in odd-sized pieces gives the same bytes.
	var buf bytes.Buffer
	w, err := NewWriter(&buf, md, infos)
	if err != nil {
		t.Fatal(err)
	}
	all := bytes.Join(data, nil)
	for len(all) > 0 {
		n := min(7, len(all))
		if _, err := w.Write(all[:n]); err != nil {
			t.Fatal(err)
		}
		all = all[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Fatal("streamed writes differ from WriteTensor")
	}
}

func TestCustomAlignment(t *testing.T) {
	md := Metadata{{"general.alignment", uint32(64)}}
	infos, data := sampleTensors()
	f, err := Parse(encode(t, md, infos, data))
	if err != nil {
		t.Fatal(err)
	}
	if f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Fatalf("alignment %d, data offset %d", f.Alignment, f.DataOffset)
	}
	for _, ti := range f.Tensors {
		if ti.Offset%64 != 0 {
			t.Errorf("%q at %d", ti.Name, ti.Offset)
		}
	}
	if _, err := NewWriter(io_discard{}, Metadata{{"general.alignment", uint32(3)}}, nil); err == nil {
		t.Error("alignment 3 accepted")
	}
}

type io_discard struct{}

func (io_discard) Write(p []byte) (int, error) { return len(p), nil }

func TestWriterErrors(t *testing.T) {
	infos, data := sampleTensors()
	for _, tc := range []struct {
		name  string
		md    Metadata
		infos []TensorInfo
	}{
		{"bad value type", Metadata{{"k", 3}}, nil},
		{"duplicate key", Metadata{{"k", "a"}, {"k", "b"}}, nil},
		{"duplicate tensor", nil, []TensorInfo{infos[0], infos[0]}},
		{"long name", nil, []TensorInfo{{Name: strings.Repeat("x", 64), Type: TypeF32, Dims: []uint64{1}}}},
		{"bad block", nil, []TensorInfo{{Name: "q", Type: TypeQ4_K, Dims: []uint64{100}}}},
		{"unknown type", nil, []TensorInfo{{Name: "q", Type: 4, Dims: []uint64{1}}}},
		{"mismatched array", Metadata{{"k", Array{ValueString, []int32{1}}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewWriter(io_discard{}, tc.md, tc.infos); err == nil {
				t.Fatal("want error")
			}
		})
	}
	w, err := NewWriter(io_discard{}, nil, infos)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("b", data[1]); err == nil {
		t.Error("out-of-order tensor accepted")
	}
	if err := w.WriteTensor("a", data[0][:3]); err == nil {
		t.Error("short tensor accepted")
	}
	if err := w.Close(); err == nil {
		t.Error("Close with missing tensors succeeded")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.gguf")
	infos, data := sampleTensors()
	err := WriteFile(p, nil, infos, func(w *Writer) error {
		if err := w.WriteTensor("a", data[0]); err != nil {
			return err
		}
		return errors.New("interrupted")
	})
	if err == nil {
		t.Fatal("want error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files left behind: %v", ents)
	}
	err = WriteFile(p, sampleMetadata(), infos, func(w *Writer) error {
		for i, d := range data {
			if err := w.WriteTensor(infos[i].Name, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d, ok := f.TensorDataByName("c"); !ok || !bytes.Equal(d, data[2]) {
		t.Fatal("tensor c differs")
	}
	if f.Architecture() != "llama" {
		t.Fatalf("architecture %q", f.Architecture())
	}
}

// patch returns a copy of b with v written little-endian at off.
func patch(b []byte, off int, v any) []byte {
	c := bytes.Clone(b)
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, v)
	copy(c[off:], buf.Bytes())
	return c
}

func TestParseErrors(t *testing.T) {
	infos, data := sampleTensors()
	good := encode(t, Metadata{{"k", "v"}}, infos, data)
	// Header layout: magic 4, version 4, n_tensors 8, n_kv 8, key "k" (8+1), type 4, value (8+1).
	kvEnd := 4 + 4 + 8 + 8 + 9 + 4 + 9
	// First tensor info: name "a" (8+1), n_dims 4, dims 2x8, type 4, offset 8.
	t0 := kvEnd
	t0Type := t0 + 9 + 4 + 16
	t0Off := t0Type + 4
	t1Off := t0Off + 8 + 9 + 4 + 8 + 4
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a GGUF"},
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), "not a GGUF"},
		{"big-endian", patch(good, 4, uint32(0x03000000)), "big-endian"},
		{"version 1", patch(good, 4, uint32(1)), "version 1"},
		{"version 9", patch(good, 4, uint32(9)), "unsupported GGUF version 9"},
		{"huge tensor count", patch(good, 8, uint64(1<<62)), "tensor count"},
		{"huge kv count", patch(good, 16, uint64(1<<62)), "metadata count"},
		{"huge key length", patch(good, 24, uint64(1<<62)), "past end of file"},
		{"unknown value type", patch(good, 33, uint32(77)), "unknown value type"},
		{"unknown tensor type", patch(good, t0Type, uint32(4)), "unknown type 4"},
		{"misaligned offset", patch(good, t1Off, uint64(8)), "not aligned"},
		{"offset past end", patch(good, t1Off, uint64(1<<40)), "past end of file"},
		{"overlap", patch(good, t1Off, uint64(0)), "overlap"},
		{"truncated header", good[:40], "bytes left"},
		{"truncated data", good[:len(good)-40], "past end of file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil {
				t.Fatal("want error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestOpenNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.gguf")
	os.WriteFile(p, []byte("GGUF\x03\x00\x00\x00\x01"), 0o644)
	_, err := Open(p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v does not name %s", err, p)
	}
}

func TestTypeTable(t *testing.T) {
	for _, tc := range []struct {
		typ        TensorType
		name       string
		block, siz int
	}{
		{TypeF32, "F32", 1, 4}, {TypeF16, "F16", 1, 2}, {TypeBF16, "BF16", 1, 2},
		{TypeQ4_0, "Q4_0", 32, 18}, {TypeQ4_1, "Q4_1", 32, 20}, {TypeQ5_0, "Q5_0", 32, 22},
		{TypeQ5_1, "Q5_1", 32, 24}, {TypeQ8_0, "Q8_0", 32, 34}, {TypeQ2_K, "Q2_K", 256, 84},
		{TypeQ3_K, "Q3_K", 256, 110}, {TypeQ4_K, "Q4_K", 256, 144}, {TypeQ5_K, "Q5_K", 256, 176},
		{TypeQ6_K, "Q6_K", 256, 210}, {TypeQ8_K, "Q8_K", 256, 292}, {TypeIQ4_NL, "IQ4_NL", 32, 18},
		{TypeIQ4_XS, "IQ4_XS", 256, 136},
	} {
		if tc.typ.String() != tc.name || tc.typ.BlockSize() != tc.block || tc.typ.TypeSize() != tc.siz {
			t.Errorf("%v: got %s %d %d", uint32(tc.typ), tc.typ, tc.typ.BlockSize(), tc.typ.TypeSize())
		}
		p, err := ParseTensorType(strings.ToLower(tc.name))
		if err != nil || p != tc.typ {
			t.Errorf("ParseTensorType(%q) = %v, %v", tc.name, p, err)
		}
	}
	if _, err := TypeQ4_K.RowSize(100); err == nil {
		t.Error("RowSize accepted a partial block")
	}
	if n, _ := TypeQ4_K.RowSize(512); n != 288 {
		t.Errorf("RowSize(512) = %d", n)
	}
}

func TestMetadataAccessors(t *testing.T) {
	md := sampleMetadata()
	if v, ok := md.Uint("u32"); !ok || v != 1<<31 {
		t.Error("Uint u32")
	}
	if _, ok := md.Uint("i8"); ok {
		t.Error("Uint accepted a negative int8")
	}
	if v, ok := md.Int("i64"); !ok || v != -1<<60 {
		t.Error("Int i64")
	}
	if v, ok := md.Float("f32"); !ok || v != 1.5 {
		t.Error("Float f32")
	}
	if _, ok := md.String("u8"); ok {
		t.Error("String of a uint8")
	}
	if s, ok := md.Strings("a.str"); !ok || len(s) != 3 {
		t.Error("Strings")
	}
	if _, ok := md.Float32s("a.str"); ok {
		t.Error("Float32s of strings")
	}
	md.Set("s", "new")
	md.Set("added", int32(1))
	md.Delete("u8")
	if s, _ := md.String("s"); s != "new" || !md.Has("added") || md.Has("u8") {
		t.Error("Set/Delete")
	}
}

// TestFixtureRoundTrip reads every GGUF made by llama.cpp in ../shared and rewrites it byte
// for byte.
func TestFixtureRoundTrip(t *testing.T) {
	shared := sharedDir(t)
	paths, _ := filepath.Glob(filepath.Join(shared, "fixtures", "*", "gguf", "*.gguf"))
	more, _ := filepath.Glob(filepath.Join(shared, "fixtures", "tokenizers", "*.gguf"))
	paths = append(paths, more...)
	if len(paths) == 0 {
		t.Skip("no GGUF fixtures found")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var buf bytes.Buffer
			w, err := NewWriter(&buf, f.Metadata, f.Tensors)
			if err != nil {
				t.Fatal(err)
			}
			for i, ti := range f.Tensors {
				if err := w.WriteTensor(ti.Name, f.TensorData(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(orig, buf.Bytes()) {
				t.Fatalf("rewrite differs (%d vs %d bytes)", len(orig), buf.Len())
			}
		})
	}
}
