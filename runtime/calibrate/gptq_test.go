package calibrate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/testfixtures"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// floatTensors reads every tensor of a GGUF file as float32, in runtime.FromTensors' form.
func floatTensors(t *testing.T, path string) (convert.Config, gguf.Metadata, map[string]runtime.Tensor) {
	t.Helper()
	src, err := quantize.OpenGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg, err := convert.ConfigFromGGUF(src.Metadata(), src.Tensors())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]runtime.Tensor{}
	for i, info := range src.Tensors() {
		data, err := src.TensorData(i)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, info.NumElements())
		if err := quantize.Dequantize(info.Type, x, data); err != nil {
			t.Fatal(err)
		}
		dims := make([]int, len(info.Dims))
		for j, d := range info.Dims {
			dims[j] = int(d)
		}
		out[info.Name] = runtime.Tensor{Dims: dims, Data: x}
	}
	return cfg, src.Metadata(), out
}

// TestGPTQFixtureLayerErrors checks, on every linear layer of the fixture teacher with XᵀX from
// its train.txt, that GPTQ's output error tr(ΔHΔᵀ) is below round-to-nearest's and the
// imatrix-weighted quantizer's (with the imatrix diag(H)/count of the same data), at Q4_K and
// Q3_K, in natural and act-order.
func TestGPTQFixtureLayerErrors(t *testing.T) {
	path := testfixtures.Path(t, "fixtures", "shakespeare-llama", "gguf", "teacher-F32.gguf")
	train := testfixtures.Path(t, "fixtures", "shakespeare-llama", "train.txt")
	_, md, tensors := floatTensors(t, path)
	grams := &Gram{Select: func(w string) bool { return w != tokenEmbd }}
	col := New(grams)
	m, err := runtime.Load(path, runtime.Options{ActivationObserver: col.Observe})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	seqs := trainChunks(t, md, train, 16, 256)
	if err := Run(context.Background(), m, seqs, RunOptions{Logits: true}); err != nil {
		t.Fatal(err)
	}
	layers := 0
	for _, g := range grams.Grams() {
		im := make([]float32, g.N)
		for j := range im {
			im[j] = float32(g.Sum[j*g.N+j] / float64(g.Count))
		}
		for _, name := range g.Weights {
			w := tensors[name].Data
			layers++
			types := []gguf.TensorType{gguf.TypeQ4_K, gguf.TypeQ3_K}
			if testing.Short() {
				types = types[:1]
			}
			for _, typ := range types {
				c, _ := quantize.Lookup(typ)
				size := len(w) / c.BlockSize() * c.TypeSize()
				errOf := func(b []byte) float64 {
					d := make([]float32, len(w))
					if err := quantize.Dequantize(typ, d, b); err != nil {
						t.Fatal(err)
					}
					return quantize.OutputError(w, d, g.N, g.Sum)
				}
				plain, weighted := make([]byte, size), make([]byte, size)
				if err := quantize.Quantize(typ, plain, w, g.N, nil); err != nil {
					t.Fatal(err)
				}
				if err := quantize.Quantize(typ, weighted, w, g.N, im); err != nil {
					t.Fatal(err)
				}
				ep, ew := errOf(plain), errOf(weighted)
				for _, actOrder := range []bool{false, true} {
					b := make([]byte, size)
					if _, err := quantize.GPTQ(typ, b, w, g.N, g.Sum, im, quantize.GPTQOptions{ActOrder: actOrder}); err != nil {
						t.Fatal(err)
					}
					eg := errOf(b)
					t.Logf("%-26s %s act-order=%-5v gptq/rtn %.3f gptq/imatrix %.3f", name, typ, actOrder, eg/ep, eg/ew)
					if eg >= ep || eg >= ew {
						t.Errorf("%s %s act-order=%v: GPTQ output error %g, round-to-nearest %g, imatrix %g", name, typ, actOrder, eg, ep, ew)
					}
				}
			}
		}
	}
	if layers != 4*7+1 {
		t.Errorf("checked %d matrices, want the 28 of the blocks and the output head", layers)
	}
}

// trainChunks tokenizes path and returns n chunks of l tokens.
func trainChunks(t *testing.T, md gguf.Metadata, path string, n, l int) [][]int32 {
	t.Helper()
	tok, err := tokenizer.FromGGUF(md)
	if err != nil {
		t.Fatal(err)
	}
	text, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode(text, tokenizer.EncodeOptions{AddSpecial: true})
	if err != nil {
		t.Fatal(err)
	}
	var seqs [][]int32
	for i := 0; i+l <= len(ids) && len(seqs) < n; i += l {
		seqs = append(seqs, ids[i:i+l])
	}
	return seqs
}

// TestGPTQDriver runs the block-by-block driver on a random two-block model: every block
// matrix and the output head come back encoded, the float weights hold their decoded values,
// the bytes do not depend on the thread count, and the pipeline writes a file the runtime
// loads and runs.
func TestGPTQDriver(t *testing.T) {
	path := tinyModel(t)
	var first, sequential map[string][]byte
	var tensors map[string]runtime.Tensor
	for _, run := range []struct {
		threads    int
		sequential bool
	}{{1, false}, {3, false}, {2, true}, {1, true}} {
		threads := run.threads
		var cfg convert.Config
		cfg, _, tensors = floatTensors(t, path)
		types := map[string]gguf.TensorType{"output.weight": gguf.TypeQ8_0}
		for name, tt := range tensors {
			if len(tt.Dims) == 2 && name != tokenEmbd && name != "output.weight" {
				types[name] = gguf.TypeQ4_0
			}
		}
		out, err := GPTQ(context.Background(), cfg, tensors, sequences(6, 20), GPTQOptions{
			Types: types, Threads: threads, Sequential: run.sequential, Method: quantize.GPTQOptions{ActOrder: true, Threads: threads}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(types) {
			t.Fatalf("%d matrices encoded, want %d", len(out), len(types))
		}
		for name, b := range out {
			d := make([]float32, len(tensors[name].Data))
			if err := quantize.Dequantize(types[name], d, b); err != nil {
				t.Fatal(err)
			}
			for i := range d {
				if d[i] != tensors[name].Data[i] {
					t.Fatalf("%s: weight %d is %g, its encoding decodes to %g", name, i, tensors[name].Data[i], d[i])
				}
			}
		}
		want := &first
		if run.sequential {
			want = &sequential
		}
		if *want == nil {
			*want = out
			continue
		}
		for name, b := range out {
			if !bytes.Equal(b, (*want)[name]) {
				t.Errorf("%s: %d threads gave different bytes (sequential %v)", name, threads, run.sequential)
			}
		}
	}
	// Sequential calibration sees the quantized attention: the feed-forward matrices differ.
	if bytes.Equal(first["blk.1.ffn_down.weight"], sequential["blk.1.ffn_down.weight"]) {
		t.Error("sequential calibration changed nothing")
	}
	mix, err := quantize.ParseMix("Q4_0")
	if err != nil {
		t.Fatal(err)
	}
	src, err := quantize.OpenGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	outPath := filepath.Join(t.TempDir(), "gptq.gguf")
	opts := quantize.Options{Mix: mix, Pure: true, OutputTensorType: ptr(gguf.TypeQ8_0), Prequantized: first}
	if _, err := quantize.Run(context.Background(), src, outPath, opts); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, info := range f.Tensors {
		if b, ok := first[info.Name]; ok && !bytes.Equal(f.TensorData(i), b) {
			t.Errorf("%s: the file holds other bytes than GPTQ's", info.Name)
		}
	}
	m, err := runtime.Load(outPath, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Forward([]int32{1, 5, 9}, 0, true); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
