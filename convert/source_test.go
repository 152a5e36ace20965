package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// TestSourceMatchesFile checks the streaming API against the converted file: every tensor's
// ReadRows bytes (whole and in row ranges) equal the file's data, ReadRowsF32 holds the values
// before narrowing, and the planned metadata is what was written.
func TestSourceMatchesFile(t *testing.T) {
	s := synth{arch: "LlamaForCausalLM", modelType: "llama", hidden: 64, layers: 2, heads: 4, kv: 2, ffn: 96,
		vocab: 320, dtype: safetensors.BF16, tokenizer: "spm", biases: true}
	dir := filepath.Join(t.TempDir(), "m")
	s.write(t, dir)
	out := filepath.Join(t.TempDir(), "m.gguf")
	opts := Options{OutType: OutF16}
	if _, err := Convert(context.Background(), dir, out, opts); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := OpenSource(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if len(src.Metadata) != len(f.Metadata) {
		t.Fatalf("metadata: %d keys planned, %d written", len(src.Metadata), len(f.Metadata))
	}
	for i, ti := range src.Tensors {
		want := f.TensorData(i)
		got, err := src.ReadRows(i, 0, ti.Rows(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if ti.Name != f.Tensors[i].Name || !bytes.Equal(got, want) {
			t.Fatalf("%s: ReadRows differs from the file", ti.Name)
		}
		if ti.Rows() > 3 { // a middle range
			rowBytes := int64(len(want)) / ti.Rows()
			part, err := src.ReadRows(i, 1, 3, nil)
			if err != nil || !bytes.Equal(part, want[rowBytes:3*rowBytes]) {
				t.Fatalf("%s: rows [1,3) differ: %v", ti.Name, err)
			}
		}
		vals, err := src.ReadRowsF32(i, 0, ti.Rows(), nil)
		if err != nil {
			t.Fatal(err)
		}
		enc := make([]byte, len(want))
		encodeFrom(enc, vals, ti.Type)
		if !bytes.Equal(enc, want) {
			t.Fatalf("%s: ReadRowsF32 values do not narrow to the file's bytes", ti.Name)
		}
		src.Release(i)
	}
	if _, err := src.ReadRows(0, 0, src.Tensors[0].Rows()+1, nil); !errors.Is(err, errReadRange) {
		t.Errorf("out-of-range read: %v", err)
	}
	if _, err := src.ReadRowsF32(len(src.Tensors), 0, 1, nil); err == nil {
		t.Error("bad index accepted")
	}
	// Permuted vectors (q/k biases) only come whole.
	for i, ti := range src.Tensors {
		if ti.PermuteHeads > 0 && len(ti.Dims) == 1 {
			if b, err := src.ReadRows(i, 0, 1, nil); err != nil || int64(len(b)) != ti.Size() {
				t.Errorf("%s: %v", ti.Name, err)
			}
		}
	}
}

// TestDeterministicThreads converts the same checkpoint with 1, 2 and 7 workers and a chunk size
// that splits tensors: the files must be identical.
func TestDeterministicThreads(t *testing.T) {
	s := synth{arch: "Qwen2ForCausalLM", modelType: "qwen2", hidden: 128, layers: 3, heads: 4, kv: 2, ffn: 320,
		vocab: 600, dtype: safetensors.F32, tokenizer: "bpe-qwen2", biases: true}
	dir := filepath.Join(t.TempDir(), "m")
	s.write(t, dir)
	defer func(c int64) { chunkBytes = c }(chunkBytes)
	chunkBytes = 1000 // every weight spans many chunks
	var first []byte
	for _, n := range []int{1, 2, 7} {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("t%d.gguf", n))
		if _, err := Convert(context.Background(), dir, out, Options{OutType: OutBF16, Threads: n}); err != nil {
			t.Fatal(err)
		}
		b := mustRead(t, out)
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatalf("%d threads: output differs", n)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ExampleOpenSource streams the tensors of a Hugging Face folder in GGUF space, as a quantizer
// would: names, GGUF shapes and float32 rows, one tensor at a time.
func ExampleOpenSource() {
	src, err := OpenSource("path/to/hf-model", Options{OutType: OutF16})
	if err != nil {
		fmt.Println("error:", errors.Is(err, ErrBadInput))
		return
	}
	defer src.Close()
	var rows []float32
	for i, t := range src.Tensors {
		rows, _ = src.ReadRowsF32(i, 0, t.Rows(), rows)
		fmt.Println(t.Name, t.Dims, t.Type, len(rows))
		src.Release(i)
	}
	// Output: error: true
}

// TestTable16 checks the lookup-table path of 16-bit to 16-bit conversions against widening and
// narrowing every bit pattern one by one.
func TestTable16(t *testing.T) {
	src := make([]byte, 2<<16)
	for i := 0; i < 1<<16; i++ {
		src[2*i], src[2*i+1] = byte(i), byte(i>>8)
	}
	for _, st := range []safetensors.DType{safetensors.F16, safetensors.BF16} {
		for _, tt := range []gguf.TensorType{gguf.TypeF16, gguf.TypeBF16} {
			got := make([]byte, len(src))
			convertElems(got, tt, src, st, make([]float32, 100))
			vals := make([]float32, 1<<16)
			decodeF32(vals, src, st)
			want := make([]byte, len(src))
			encodeFrom(want, vals, tt)
			if st == safetensors.F16 && tt == gguf.TypeF16 {
				want = src // a copy, NaN payloads included
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s -> %s differs", st, tt)
			}
		}
	}
}
