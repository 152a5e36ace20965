package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"
)

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// rawFile assembles a safetensors file from a literal header and data, without validation.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// sample returns tensors of every dtype with deterministic contents.
func sample() ([]TensorInfo, [][]byte) {
	var infos []TensorInfo
	var data [][]byte
	for i, d := range AllDTypes() {
		shape := []int64{2, 3}
		if d.Bits() < 8 {
			shape = []int64{4, 4} // 16 elements fill whole bytes for 4- and 6-bit types
		}
		t := TensorInfo{Name: "t." + string(d), DType: d, Shape: shape}
		n, _ := byteSize(d, shape)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(i*31 + j*7)
		}
		if d == BOOL {
			for j := range b {
				b[j] &= 1
			}
		}
		infos = append(infos, t)
		data = append(data, b)
	}
	infos = append(infos, TensorInfo{Name: "scalar", DType: F32, Shape: []int64{}})
	data = append(data, []byte{0, 0, 0x80, 0x3f})
	infos = append(infos, TensorInfo{Name: "empty", DType: F16, Shape: []int64{0, 5}})
	data = append(data, nil)
	return infos, data
}

func encode(t testing.TB, md map[string]string, infos []TensorInfo, data [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, md, infos)
	if err != nil {
		t.Fatal(err)
	}
	for i, ti := range infos {
		if err := w.WriteTensor(ti.Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripAllDTypes(t *testing.T) {
	infos, data := sample()
	md := map[string]string{"format": "pt", "note": "quote \" backslash \\ newline \n <tag> é"}
	b := encode(t, md, infos, data)
	if hl := binary.LittleEndian.Uint64(b); hl%8 != 0 {
		t.Errorf("header length %d not padded to 8", hl)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, md) {
		t.Errorf("metadata %q, want %q", f.Metadata, md)
	}
	if len(f.Tensors) != len(infos) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(infos))
	}
	for i, ti := range infos {
		got := f.Tensors[i]
		if got.Name != ti.Name || got.DType != ti.DType || !reflect.DeepEqual(got.Shape, ti.Shape) {
			t.Errorf("tensor %d: got %+v, want %+v", i, got, ti)
		}
		if !bytes.Equal(f.TensorData(i), data[i]) {
			t.Errorf("tensor %q: data differs", ti.Name)
		}
		if d, ok := f.TensorDataByName(ti.Name); !ok || !bytes.Equal(d, data[i]) {
			t.Errorf("tensor %q: lookup by name failed", ti.Name)
		}
	}
	// Rewriting what was read gives the same bytes.
	again := encode(t, f.Metadata, f.Tensors, func() [][]byte {
		out := make([][]byte, len(f.Tensors))
		for i := range out {
			out[i] = f.TensorData(i)
		}
		return out
	}())
	if !bytes.Equal(again, b) {
		t.Error("rewrite is not byte-identical")
	}
}

func TestDTypes(t *testing.T) {
	cases := []struct {
		d          DType
		bits, size int
	}{
		{F64, 64, 8}, {F32, 32, 4}, {F16, 16, 2}, {BF16, 16, 2}, {I64, 64, 8}, {I32, 32, 4},
		{I16, 16, 2}, {I8, 8, 1}, {U8, 8, 1}, {BOOL, 8, 1}, {F8E4M3, 8, 1}, {F8E5M2, 8, 1},
		{U16, 16, 2}, {U32, 32, 4}, {U64, 64, 8}, {F8E8M0, 8, 1}, {C64, 64, 8}, {F4, 4, 0}, {F6E2M3, 6, 0},
	}
	for _, c := range cases {
		if c.d.Bits() != c.bits || c.d.Size() != c.size || !c.d.Valid() {
			t.Errorf("%s: bits %d size %d valid %v", c.d, c.d.Bits(), c.d.Size(), c.d.Valid())
		}
		if p, err := ParseDType(string(c.d)); err != nil || p != c.d {
			t.Errorf("ParseDType(%q) = %q, %v", c.d, p, err)
		}
	}
	for _, bad := range []string{"", "f32", "FP32", "F8_E4M3FN", "Q4_0"} {
		if _, err := ParseDType(bad); err == nil {
			t.Errorf("ParseDType(%q) accepted", bad)
		}
	}
}

// TestMalformed checks that every kind of bad file is rejected with an error naming the problem.
func TestMalformed(t *testing.T) {
	eight := make([]byte, 8)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "too short"},
		{"truncated length", []byte{1, 2, 3}, "too short"},
		{"header past end", rawFile(`{}`, nil)[:9], "past end of file"},
		{"header too large", func() []byte { b := make([]byte, 16); binary.LittleEndian.PutUint64(b, MaxHeaderSize+1); return b }(), "exceeds"},
		{"huge header length", func() []byte { b := make([]byte, 16); binary.LittleEndian.PutUint64(b, math.MaxUint64); return b }(), "exceeds"},
		{"not an object", rawFile(`[]`, nil), "does not start with '{'"},
		{"bad json", rawFile(`{"a":`, nil), "header JSON"},
		{"trailing garbage", rawFile(`{}x`, nil), "after the top-level object"},
		{"invalid utf8", rawFile("{\"\xff\":1}", nil), "UTF-8"},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F17","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), `unknown dtype "F17"`},
		{"lowercase dtype", rawFile(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "unknown dtype"},
		{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "dtype missing"},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), "shape missing"},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "data_offsets missing"},
		{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)), `unknown field "x"`},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "not an integer"},
		{"float dim", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), "not an integer"},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 4)), "want 2"},
		{"end before begin", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, make([]byte, 4)), "end before begin"},
		{"size mismatch", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs 8 bytes"},
		{"shape overflow", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "overflows"},
		{"sub-byte remainder", rawFile(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}`, make([]byte, 1)), "whole bytes"},
		{"out of range", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "past end of file"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "overlap"},
		{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), "gap"},
		{"not from zero", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "unused"},
		{"trailing data", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eight), "trailing bytes"},
		{"duplicate tensor", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{1, 2}), "duplicate tensor"},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), "duplicate"},
		{"metadata not strings", rawFile(`{"__metadata__":{"a":1}}`, nil), "not a string"},
		{"metadata not object", rawFile(`{"__metadata__":[1]}`, nil), "object of strings"},
		{"entry not object", rawFile(`{"a":[1]}`, nil), "must be an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.file)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error does not wrap ErrFormat: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "<memory>") {
				t.Errorf("error %q does not mention %q and the file", err, c.want)
			}
		})
	}
}

func TestAcceptsEdgeCases(t *testing.T) {
	cases := []struct {
		name string
		file []byte
		n    int
	}{
		{"empty object", rawFile(`{}`, nil), 0},
		{"padded", rawFile(`{}      `, nil), 0},
		{"null metadata", rawFile(`{"__metadata__":null}`, nil), 0},
		{"zero-size tensors share offsets", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"c":{"dtype":"I64","shape":[3,0],"data_offsets":[2,2]}}`, []byte{1, 2}), 3},
		{"out of order header", rawFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1, 2}), 2},
	}
	for _, c := range cases {
		f, err := Parse(c.file)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(f.Tensors) != c.n {
			t.Errorf("%s: %d tensors, want %d", c.name, len(f.Tensors), c.n)
		}
	}
	f, _ := Parse(rawFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{7, 9}))
	if f.Tensors[0].Name != "b" || !reflect.DeepEqual(f.Names(), []string{"a", "b"}) {
		t.Errorf("header order not kept or names not sorted: %v %v", f.Tensors, f.Names())
	}
	if d, _ := f.TensorDataByName("b"); d[0] != 9 {
		t.Errorf("tensor b data %v", d)
	}
}

func TestWriterErrors(t *testing.T) {
	var buf bytes.Buffer
	if _, err := NewWriter(&buf, nil, []TensorInfo{{Name: "a", DType: "X", Shape: []int64{1}}}); err == nil {
		t.Error("unknown dtype accepted")
	}
	if _, err := NewWriter(&buf, nil, []TensorInfo{{Name: "a", DType: F32}, {Name: "a", DType: F32}}); err == nil {
		t.Error("duplicate name accepted")
	}
	if _, err := NewWriter(&buf, nil, []TensorInfo{{Name: MetadataKey, DType: F32}}); err == nil {
		t.Error("reserved name accepted")
	}
	if _, err := NewWriter(&buf, nil, []TensorInfo{{Name: "a", DType: F4, Shape: []int64{3}}}); err == nil {
		t.Error("odd F4 count accepted")
	}
	w, err := NewWriter(&buf, nil, []TensorInfo{{Name: "a", DType: F32, Shape: []int64{1}}, {Name: "b", DType: U8, Shape: []int64{2}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("b", []byte{1, 2}); err == nil {
		t.Error("out-of-order tensor accepted")
	}
	if err := w.WriteTensor("a", []byte{1}); err == nil {
		t.Error("short tensor accepted")
	}
	if err := w.Close(); err == nil {
		t.Error("Close accepted missing tensors")
	}
	if _, err := w.Write(make([]byte, 6)); err != nil { // spans both tensors
		t.Fatal(err)
	}
	if _, err := w.Write([]byte{0}); err == nil {
		t.Error("write past the end accepted")
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.safetensors")
	infos := []TensorInfo{{Name: "a", DType: F32, Shape: []int64{2}}}
	boom := errors.New("boom")
	if err := WriteFile(p, nil, infos, func(w *Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files left behind: %v", ents)
	}
	if err := WriteFile(p, nil, infos, func(w *Writer) error { return nil }); err == nil {
		t.Fatal("incomplete data accepted")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files left behind: %v", ents)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.safetensors"), nil, infos, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("unwritable folder: %v", err)
	}
	if err := WriteFile(p, nil, infos, func(w *Writer) error { return w.WriteTensor("a", make([]byte, 8)) }); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Tensors) != 1 || f.Size() != 8+f.HeaderSize+8 {
		t.Errorf("got %+v", f.Tensors)
	}
	f.Release(0) // must not disturb later reads
	if d := f.TensorData(0); len(d) != 8 {
		t.Error("data after Release")
	}
}

func TestShardedWriteAndRead(t *testing.T) {
	infos, data := sample()
	dir := t.TempDir()
	names, err := WriteSharded(dir, map[string]string{"format": "pt"}, infos, 40, func(w *ShardedWriter) error {
		for i, ti := range infos {
			if err := w.WriteTensor(ti.Name, data[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 3 || names[len(names)-1] != IndexFile || names[0] != ShardName(1, len(names)-1) {
		t.Fatalf("files %v", names)
	}
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Files) != len(names)-1 || c.Index == nil {
		t.Fatalf("%d shards read", len(c.Files))
	}
	if c.Metadata()["format"] != "pt" {
		t.Error("metadata lost")
	}
	for i, ti := range infos {
		e, ok := c.Lookup(ti.Name)
		if !ok {
			t.Fatalf("tensor %q missing", ti.Name)
		}
		if !bytes.Equal(c.Data(e), data[i]) {
			t.Errorf("tensor %q data differs", ti.Name)
		}
	}
	// Entries come shard by shard, sorted by name within each shard.
	var got []string
	for _, e := range c.Entries() {
		got = append(got, e.Name)
	}
	var want []string
	for _, f := range c.Files {
		want = append(want, f.Names()...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entry order %v, want %v", got, want)
	}
	// A single file when everything fits.
	dir2 := t.TempDir()
	names, err = WriteSharded(dir2, nil, infos[:2], 0, func(w *ShardedWriter) error {
		if err := w.WriteTensor(infos[0].Name, data[0]); err != nil {
			return err
		}
		return w.WriteTensor(infos[1].Name, data[1])
	})
	if err != nil || !reflect.DeepEqual(names, []string{SingleFile}) {
		t.Fatalf("single: %v %v", names, err)
	}
	// A failing fill leaves nothing.
	dir3 := t.TempDir()
	if _, err := WriteSharded(dir3, nil, infos, 40, func(w *ShardedWriter) error { return errors.New("stop") }); err == nil {
		t.Fatal("error lost")
	}
	if ents, _ := os.ReadDir(dir3); len(ents) != 0 {
		t.Fatalf("files left behind: %v", ents)
	}
}

func TestCheckpointErrors(t *testing.T) {
	mk := func(t *testing.T, files map[string][]byte) string {
		dir := t.TempDir()
		for n, b := range files {
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	a := rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1})
	b := rawFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{2})
	cases := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"no files", map[string][]byte{"config.json": []byte("{}")}, "no model*.safetensors"},
		{"bad index json", map[string][]byte{IndexFile: []byte("{")}, "index JSON"},
		{"no weight map", map[string][]byte{IndexFile: []byte(`{"metadata":{}}`)}, "weight_map"},
		{"path in weight map", map[string][]byte{IndexFile: []byte(`{"weight_map":{"a":"../x.safetensors"}}`)}, "not a file name"},
		{"missing shard", map[string][]byte{IndexFile: []byte(`{"weight_map":{"a":"model-1.safetensors"}}`)}, "no such file"},
		{"missing tensor", map[string][]byte{IndexFile: []byte(`{"weight_map":{"a":"m1.safetensors","z":"m1.safetensors"}}`), "m1.safetensors": a}, "in no shard"},
		{"extra tensor", map[string][]byte{IndexFile: []byte(`{"weight_map":{"a":"m1.safetensors"}}`), "m1.safetensors": rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"q":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{1, 2})}, "not in the weight map"},
		{"wrong shard", map[string][]byte{IndexFile: []byte(`{"weight_map":{"a":"m2.safetensors","b":"m1.safetensors"}}`), "m1.safetensors": a, "m2.safetensors": b}, "weight map says"},
		{"duplicate across shards", map[string][]byte{"model-1.safetensors": a, "model-2.safetensors": a}, "in both"},
		{"bad shard", map[string][]byte{"model.safetensors": []byte("junk")}, "too short"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := mk(t, c.files)
			_, err := OpenCheckpoint(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	dir := mk(t, map[string][]byte{"model-b.safetensors": b, "model-a.safetensors": a, "other.safetensors": a})
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Files) != 2 || c.Entries()[0].Name != "a" {
		t.Errorf("unindexed shards: %d files, first %q", len(c.Files), c.Entries()[0].Name)
	}
	single, err := OpenCheckpoint(filepath.Join(dir, "other.safetensors"))
	if err != nil || len(single.Entries()) != 1 {
		t.Fatalf("single file: %v", err)
	}
	single.Close()
}

// TestFixture reads the BF16 checkpoint of the shared fixtures, which transformers wrote.
func TestFixture(t *testing.T) {
	hf := filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama", "hf")
	c, err := OpenCheckpoint(hf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ents := c.Entries()
	if len(ents) != 39 {
		t.Fatalf("%d tensors, want 39 (4 layers x 9 + embed, norm, lm_head)", len(ents))
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name
		if e.DType != BF16 {
			t.Errorf("%s: dtype %s", e.Name, e.DType)
		}
	}
	if !sort.StringsAreSorted(names) || names[0] != "lm_head.weight" {
		t.Errorf("order %v", names[:3])
	}
	e, _ := c.Lookup("model.layers.0.self_attn.k_proj.weight")
	if !reflect.DeepEqual(e.Shape, []int64{128, 256}) || int64(len(c.Data(e))) != 128*256*2 {
		t.Errorf("k_proj: %+v", e.TensorInfo)
	}
	// Rewriting the file with our writer reproduces transformers' bytes exactly.
	f := c.Files[0]
	data := make([][]byte, len(f.Tensors))
	for i := range data {
		data[i] = f.TensorData(i)
	}
	orig, err := os.ReadFile(filepath.Join(hf, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, f.Metadata, f.Tensors, data); !bytes.Equal(got, orig) {
		t.Errorf("rewrite differs from transformers' file (%d vs %d bytes)", len(got), len(orig))
	}
}
