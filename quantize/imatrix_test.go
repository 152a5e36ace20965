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

	// The raw statistics: sums as stored, counts rounded.
	st, err := ReadImatrixStats(path)
	if err != nil {
		t.Fatal(err)
	}
	wantStats := map[string]ColumnStats{
		"blk.0.ffn_down_exps.weight": {Sums: []float64{2, 4, 9, 3}, Counts: []int64{2, 0}},
		"blk.0.attn_q.weight":        {Sums: []float64{3, 6, 1.5}, Counts: []int64{3}},
	}
	if !reflect.DeepEqual(st.Entries, wantStats) {
		t.Errorf("stats %v, want %v", st.Entries, wantStats)
	}

	// WriteGGUF round-trips, expert blocks included, and Imatrix.Stats inverts the normalisation.
	for name, s := range map[string]*ImatrixStats{"stats": st, "from imatrix": im.Stats(8)} {
		out := filepath.Join(t.TempDir(), "rt.gguf")
		if err := s.WriteGGUF(out); err != nil {
			t.Fatal(err)
		}
		back, err := ReadImatrix(out)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Entries, im.Entries) || back.ChunkCount != 12 || back.ChunkSize != 512 {
			t.Errorf("%s: round trip: %+v", name, back)
		}
	}
}

// TestImatrixWriteGGUFLayout pins the tensor shapes and bytes of what WriteGGUF writes to
// llama-imatrix's: ggml's writer drops trailing dimensions of 1, so a dense matrix's in_sum2
// [ne0, 1] and counts [1, 1] are stored as [ne0] and [1]; experts keep [ne0, n_mat], [1, n_mat].
func TestImatrixWriteGGUFLayout(t *testing.T) {
	s := &ImatrixStats{
		Entries: map[string]ColumnStats{
			"blk.1.attn_q.weight":        {Sums: []float64{1.25, 2.5}, Counts: []int64{16}},
			"blk.0.ffn_down.weight":      {Sums: []float64{0.1, 0.2, 0.3}, Counts: []int64{32}},
			"blk.0.ffn_down_exps.weight": {Sums: []float64{1, 2, 3, 4}, Counts: []int64{5, 0}},
		},
		Datasets: []string{"train.txt"}, ChunkCount: 4, ChunkSize: 8,
	}
	path := filepath.Join(t.TempDir(), "imatrix.gguf")
	if err := s.WriteGGUF(path); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests := []struct {
		name string
		dims []uint64
		data []float32
	}{
		{"blk.0.ffn_down.weight.in_sum2", []uint64{3}, []float32{0.1, 0.2, 0.3}},
		{"blk.0.ffn_down.weight.counts", []uint64{1}, []float32{32}},
		{"blk.0.ffn_down_exps.weight.in_sum2", []uint64{2, 2}, []float32{1, 2, 3, 4}},
		{"blk.0.ffn_down_exps.weight.counts", []uint64{1, 2}, []float32{5, 0}},
		{"blk.1.attn_q.weight.in_sum2", []uint64{2}, []float32{1.25, 2.5}},
		{"blk.1.attn_q.weight.counts", []uint64{1}, []float32{16}},
	}
	if len(f.Tensors) != len(tests) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(tests))
	}
	for i, tt := range tests {
		ti := f.Tensors[i]
		if ti.Name != tt.name || ti.Type != gguf.TypeF32 || !reflect.DeepEqual(ti.Dims, tt.dims) {
			t.Errorf("tensor %d: %s %s %v, want %s F32 %v", i, ti.Name, ti.Type, ti.Dims, tt.name, tt.dims)
			continue
		}
		b := f.TensorData(i)
		for j, v := range tt.data {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:])); got != v {
				t.Errorf("%s[%d] = %v, want %v", tt.name, j, got, v)
			}
		}
	}
	keys := []string{}
	for _, kv := range f.Metadata {
		keys = append(keys, kv.Key)
	}
	if want := []string{"general.type", "imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("metadata keys %v, want %v", keys, want)
	}
	if err := (&ImatrixStats{}).WriteGGUF(filepath.Join(t.TempDir(), "empty.gguf")); err == nil {
		t.Error("empty statistics written without error")
	}
	bad := &ImatrixStats{Entries: map[string]ColumnStats{"a": {Sums: []float64{1, 2, 3}, Counts: []int64{1, 1}}}}
	if err := bad.WriteGGUF(filepath.Join(t.TempDir(), "bad.gguf")); err == nil {
		t.Error("3 sums over 2 counts written without error")
	}
}

// TestImatrixStatsMerge checks that merging adds sums and counts per element, copies entries
// only one side has, adds chunks and appends datasets, and refuses mismatched shapes.
func TestImatrixStatsMerge(t *testing.T) {
	a := &ImatrixStats{Entries: map[string]ColumnStats{
		"x": {Sums: []float64{1, 2}, Counts: []int64{3}},
		"y": {Sums: []float64{5}, Counts: []int64{1}},
	}, Datasets: []string{"a.txt"}, ChunkCount: 2, ChunkSize: 512}
	b := &ImatrixStats{Entries: map[string]ColumnStats{
		"x": {Sums: []float64{10, 20}, Counts: []int64{4}},
		"z": {Sums: []float64{7, 8}, Counts: []int64{2}},
	}, Datasets: []string{"b.txt"}, ChunkCount: 3, ChunkSize: 512}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	want := &ImatrixStats{Entries: map[string]ColumnStats{
		"x": {Sums: []float64{11, 22}, Counts: []int64{7}},
		"y": {Sums: []float64{5}, Counts: []int64{1}},
		"z": {Sums: []float64{7, 8}, Counts: []int64{2}},
	}, Datasets: []string{"a.txt", "b.txt"}, ChunkCount: 5, ChunkSize: 512}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("merged %+v, want %+v", a, want)
	}
	b.Entries["z"].Sums[0] = 100 // the merged copy is a's own
	if a.Entries["z"].Sums[0] != 7 {
		t.Error("merge shares o's slices")
	}
	if err := new(ImatrixStats).Merge(b); err != nil {
		t.Errorf("merge into empty statistics: %v", err)
	}
	c := &ImatrixStats{Entries: map[string]ColumnStats{"x": {Sums: []float64{1, 2, 3}, Counts: []int64{1}}}}
	if err := a.Merge(c); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("mismatched shapes: %v", err)
	}
	if a.Entries["x"].Sums[0] != 11 || a.ChunkCount != 5 {
		t.Error("a failed merge changed the statistics")
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
		{"infinite count", meta, []gguf.TensorInfo{{Name: "a.in_sum2", Type: gguf.TypeF32, Dims: []uint64{1}}, {Name: "a.counts", Type: gguf.TypeF32, Dims: []uint64{1}}}, [][]float32{{1}, {float32(math.Inf(1))}}},
		{"NaN count", meta, []gguf.TensorInfo{{Name: "a.in_sum2", Type: gguf.TypeF32, Dims: []uint64{1}}, {Name: "a.counts", Type: gguf.TypeF32, Dims: []uint64{1}}}, [][]float32{{1}, {float32(math.NaN())}}},
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

// TestImatrixNegativeCounts checks that negative counts, infinite ones included, read as 0 (the
// column's importance is then 1, as llama-quantize gives a count that is not positive).
func TestImatrixNegativeCounts(t *testing.T) {
	meta := gguf.Metadata{
		{Key: "imatrix.datasets", Value: gguf.Array{Type: gguf.ValueString, Values: []string{}}},
		{Key: "imatrix.chunk_count", Value: uint32(1)},
		{Key: "imatrix.chunk_size", Value: uint32(1)},
	}
	tensors := []gguf.TensorInfo{{Name: "a.in_sum2", Type: gguf.TypeF32, Dims: []uint64{2, 2}}, {Name: "a.counts", Type: gguf.TypeF32, Dims: []uint64{1, 2}}}
	path := filepath.Join(t.TempDir(), "neg.gguf")
	writeGGUF(t, path, meta, tensors, [][]float32{{4, 8, 4, 8}, {-3, float32(math.Inf(-1))}})
	s, err := ReadImatrixStats(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Entries["a"].Counts; !reflect.DeepEqual(got, []int64{0, 0}) {
		t.Errorf("counts %v, want [0 0]", got)
	}
	if got := s.Imatrix().Entries["a"]; !reflect.DeepEqual(got, []float32{1, 1, 1, 1}) {
		t.Errorf("importance %v, want all 1", got)
	}
}
