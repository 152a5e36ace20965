package quantize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// legacyImatrix builds a legacy .dat imatrix the way llama-imatrix's save_imatrix_legacy writes
// it: entries (name, ncall, values) then the chunk count and dataset name.
func legacyImatrix(entries []legacyEntry, chunks int32, dataset string) []byte {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	w(int32(len(entries)))
	for _, e := range entries {
		w(int32(len(e.name)))
		b.WriteString(e.name)
		w(e.ncall)
		w(int32(len(e.values)))
		w(e.values)
	}
	if chunks >= 0 {
		w(chunks)
		w(int32(len(dataset)))
		b.WriteString(dataset)
	}
	return b.Bytes()
}

type legacyEntry struct {
	name   string
	ncall  int32
	values []float32
}

func TestParseImatrixLegacy(t *testing.T) {
	data := legacyImatrix([]legacyEntry{
		{"blk.0.attn_q.weight", 4, []float32{8, 4, 0, 2}},
		{"blk.0.ffn_down.weight", 0, []float32{3, 5}}, // ncall 0: values kept as they are
	}, 7, "wiki.train.raw")
	im, err := ParseImatrix(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"blk.0.attn_q.weight": {2, 1, 0, 0.5}, "blk.0.ffn_down.weight": {3, 5}}
	if !reflect.DeepEqual(im.Entries, want) {
		t.Errorf("entries %v, want %v", im.Entries, want)
	}
	if !im.Legacy || im.ChunkCount != 7 || !reflect.DeepEqual(im.Datasets, []string{"wiki.train.raw"}) {
		t.Errorf("legacy=%v chunks=%d datasets=%v", im.Legacy, im.ChunkCount, im.Datasets)
	}
	// The trailer is optional.
	im, err = ParseImatrix(legacyImatrix([]legacyEntry{{"a.weight", 2, []float32{4}}}, -1, ""))
	if err != nil || im.ChunkCount != 0 || len(im.Datasets) != 0 || im.Entries["a.weight"][0] != 2 {
		t.Errorf("no trailer: %v %+v", err, im)
	}
}

func TestParseImatrixGGUF(t *testing.T) {
	// Two experts (matrices) of two columns; the second expert saw nothing (count 0 -> 1).
	md := gguf.Metadata{
		{Key: "general.type", Value: "imatrix"},
		{Key: "imatrix.datasets", Value: gguf.Array{Type: gguf.ValueString, Values: []string{"calib.txt"}}},
		{Key: "imatrix.chunk_count", Value: uint32(12)},
		{Key: "imatrix.chunk_size", Value: uint32(512)},
	}
	tensors := []gguf.TensorInfo{
		{Name: "blk.0.ffn_down_exps.weight.counts", Type: gguf.TypeF32, Dims: []uint64{1, 2}},
		{Name: "blk.0.ffn_down_exps.weight.in_sum2", Type: gguf.TypeF32, Dims: []uint64{2, 2}},
		{Name: "blk.0.attn_q.weight.in_sum2", Type: gguf.TypeF32, Dims: []uint64{3, 1}},
		{Name: "blk.0.attn_q.weight.counts", Type: gguf.TypeF32, Dims: []uint64{1, 1}},
	}
	data := [][]float32{{2.4, 0}, {2, 4, 9, 3}, {3, 6, 1.5}, {3}}
	path := filepath.Join(t.TempDir(), "imatrix.gguf")
	writeGGUF(t, path, md, tensors, data)
	im, err := ReadImatrix(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"blk.0.ffn_down_exps.weight": {1, 2, 1, 1}, // count 2.4 rounds to 2
		"blk.0.attn_q.weight":        {1, 2, 0.5},
	}
	if !reflect.DeepEqual(im.Entries, want) {
		t.Errorf("entries %v, want %v", im.Entries, want)
	}
	if im.Legacy || im.ChunkCount != 12 || im.ChunkSize != 512 || !reflect.DeepEqual(im.Datasets, []string{"calib.txt"}) {
		t.Errorf("%+v", im)
	}

	// WriteImatrixGGUF round-trips.
	out := filepath.Join(t.TempDir(), "rt.gguf")
	if err := WriteImatrixGGUF(out, im, 8); err != nil {
		t.Fatal(err)
	}
	back, err := ReadImatrix(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Entries, im.Entries) || back.ChunkCount != 12 {
		t.Errorf("round trip: %+v", back)
	}
}

func writeGGUF(t *testing.T, path string, md gguf.Metadata, tensors []gguf.TensorInfo, data [][]float32) {
	t.Helper()
	err := gguf.WriteFile(path, md, tensors, func(w *gguf.Writer) error {
		for i, d := range data {
			b := make([]byte, 4*len(d))
			for j, v := range d {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
			}
			if err := w.WriteTensor(tensors[i].Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestParseImatrixErrors(t *testing.T) {
	good := legacyImatrix([]legacyEntry{{"a.weight", 1, []float32{1, 2}}}, 1, "x")
	tests := map[string][]byte{
		"empty":            nil,
		"zero entries":     {0, 0, 0, 0},
		"negative entries": {0xff, 0xff, 0xff, 0xff},
		"huge count":       {0xff, 0xff, 0xff, 0x7f, 1, 2, 3},
		"truncated":        good[:len(good)-12],
		"negative name":    append([]byte{1, 0, 0, 0}, bytes.Repeat([]byte{0xff}, 16)...),
		"bad gguf":         []byte("GGUF\x03\x00\x00\x00garbage"),
	}
	for name, data := range tests {
		if _, err := ParseImatrix(data); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// GGUF files that are not imatrices: no metadata, unpaired or non-F32 tensors.
	dir := t.TempDir()
	meta := gguf.Metadata{
		{Key: "imatrix.datasets", Value: gguf.Array{Type: gguf.ValueString, Values: []string{}}},
		{Key: "imatrix.chunk_count", Value: uint32(1)},
		{Key: "imatrix.chunk_size", Value: uint32(1)},
	}
	cases := []struct {
		name    string
		md      gguf.Metadata
		tensors []gguf.TensorInfo
		data    [][]float32
	}{
		{"no metadata", nil, []gguf.TensorInfo{{Name: "a.in_sum2", Type: gguf.TypeF32, Dims: []uint64{1}}, {Name: "a.counts", Type: gguf.TypeF32, Dims: []uint64{1}}}, [][]float32{{1}, {1}}},
		{"unpaired", meta, []gguf.TensorInfo{{Name: "a.in_sum2", Type: gguf.TypeF32, Dims: []uint64{1}}}, [][]float32{{1}}},
		{"indivisible", meta, []gguf.TensorInfo{{Name: "a.in_sum2", Type: gguf.TypeF32, Dims: []uint64{3}}, {Name: "a.counts", Type: gguf.TypeF32, Dims: []uint64{2}}}, [][]float32{{1, 2, 3}, {1, 1}}},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name+".gguf")
		writeGGUF(t, p, c.md, c.tensors, c.data)
		if _, err := ReadImatrix(p); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := ReadImatrix(filepath.Join(dir, "missing.dat")); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParseImatrix feeds arbitrary bytes to both imatrix parsers: they must return an error or
// a well-formed matrix, never panic or allocate beyond the input's size.
func FuzzParseImatrix(f *testing.F) {
	f.Add(legacyImatrix([]legacyEntry{{"blk.0.attn_q.weight", 4, []float32{8, 4, 0, 2}}}, 7, "wiki"))
	f.Add(legacyImatrix([]legacyEntry{{"a", 1, []float32{1}}, {"b", 0, []float32{2, 3}}}, -1, ""))
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := ParseImatrix(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error does not wrap ErrInvalidInput: %v", err)
			}
			return
		}
		total := 0
		for name, v := range im.Entries {
			if len(v) == 0 {
				t.Fatalf("entry %q is empty", name)
			}
			total += len(v)
		}
		if 4*total > len(data) {
			t.Fatalf("%d values from %d bytes", total, len(data))
		}
	})
}
