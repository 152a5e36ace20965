package prune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/testfixtures"
	"github.com/mcompress/mcompress/runtime"
)

// tinyFloatModel writes a random tiny llama model (hidden 256, 4 blocks, FFN 768) of type typ
// and returns its path.
func tinyFloatModel(t *testing.T, typ gguf.TensorType) string {
	t.Helper()
	cfg, err := runtime.RandomConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	return writeRandom(t, cfg, typ)
}

// miniFloatModel writes a random llama model smaller still (hidden 128, 3 blocks, 4 heads of
// 32, 2 KV heads, FFN 256, vocabulary 512), for the tests that prune whole models repeatedly.
func miniFloatModel(t *testing.T, typ gguf.TensorType) string {
	t.Helper()
	cfg, err := runtime.RandomConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hidden, cfg.Layers, cfg.Heads, cfg.KVHeads, cfg.HeadDim, cfg.RopeDim, cfg.FFN, cfg.VocabSize = 128, 3, 4, 2, 32, 32, 256, 512
	return writeRandom(t, cfg, typ)
}

func writeRandom(t *testing.T, cfg convert.Config, typ gguf.TensorType) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("random-%d-%s.gguf", cfg.Hidden, typ))
	if err := runtime.WriteRandomModel(path, runtime.RandomModelOptions{Config: cfg, Type: typ, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	return path
}

// calibSeqs returns n pseudo-random sequences of l tokens.
func calibSeqs(n, l, vocab int) [][]int32 {
	tokens := make([]int32, n*l)
	x := uint32(12345)
	for i := range tokens {
		x = x*1664525 + 1013904223
		tokens[i] = int32(x>>8) % int32(vocab)
	}
	seqs, _ := CalibrationSequences(tokens, n, l, 1)
	return seqs
}

// checkPruned verifies every block matrix of fm against the requested sparsity or pattern.
func checkPruned(t *testing.T, fm *FloatModel, sparsity float64, p Pattern) {
	t.Helper()
	for b := range fm.Config.Layers {
		for _, s := range BlockMatrices {
			name := fmt.Sprintf("blk.%d.%s.weight", b, s)
			w, err := fm.Matrix(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := zeroFraction(w.Data); math.Abs(got-sparsity) > 0.01 {
				t.Errorf("%s: sparsity %.4f, want %.2f", name, got, sparsity)
			}
			if err := CheckPattern(w, p); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	for _, name := range []string{"token_embd.weight", "output.weight", "blk.0.attn_norm.weight"} {
		if zeroFraction(fm.Tensors[name].Data) > 0.01 {
			t.Errorf("%s was pruned", name)
		}
	}
}

func TestPruneModelMethods(t *testing.T) {
	path := miniFloatModel(t, gguf.TypeF16)
	seqs := calibSeqs(4, 48, 512)
	for _, method := range []Method{MethodMagnitude, MethodWanda, MethodSparseGPT} {
		for _, pat := range []string{"", "2:4", "4:8"} {
			t.Run(string(method)+pat, func(t *testing.T) {
				if testing.Short() && pat == "4:8" {
					t.Skip("4:8 in long mode only")
				}
				fm, err := LoadFloat(path)
				if err != nil {
					t.Fatal(err)
				}
				p, _ := ParsePattern(pat)
				o := UnstructuredOptions{Method: method, Pattern: p}
				if p.IsZero() {
					o.Sparsity = 0.5
				}
				res, err := PruneModel(context.Background(), fm, seqs, o)
				if err != nil {
					t.Fatal(err)
				}
				checkPruned(t, fm, 0.5, p)
				if len(res.Tensors) != 3*7 || len(res.Blocks) != 3 {
					t.Fatalf("report has %d tensors and %d blocks", len(res.Tensors), len(res.Blocks))
				}
				for _, b := range res.Blocks {
					if !(b.OutputError > 0 && b.OutputError < 1.5) {
						t.Errorf("block %d: output error %g", b.Layer, b.OutputError)
					}
				}
				// The saved file reloads with the same values (F16 kept) and runs.
				out := filepath.Join(t.TempDir(), "out.gguf")
				if err := fm.WriteGGUF(out); err != nil {
					t.Fatal(err)
				}
				back, err := LoadFloat(out)
				if err != nil {
					t.Fatal(err)
				}
				if back.Types["blk.0.attn_q.weight"] != gguf.TypeF16 {
					t.Errorf("saved as %s, want F16", back.Types["blk.0.attn_q.weight"])
				}
				checkPruned(t, back, 0.5, p)
				m, err := runtime.Load(out, runtime.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if _, err := MeanNLL(context.Background(), m, seqs[:1]); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestSparseGPTBlockwiseBeatsWanda checks the methods' order on the calibration data itself:
// SparseGPT's reconstruction leaves a smaller output error in every block than Wanda's, and
// Wanda's than magnitude's in total.
func TestSparseGPTBlockwiseBeatsWanda(t *testing.T) {
	if testing.Short() {
		t.Skip("three whole-model prunes")
	}
	path := tinyFloatModel(t, gguf.TypeF32)
	seqs := calibSeqs(4, 64, 2048)
	total := map[Method]float64{}
	errs := map[Method][]BlockResult{}
	for _, method := range []Method{MethodMagnitude, MethodWanda, MethodSparseGPT} {
		fm, err := LoadFloat(path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := PruneModel(context.Background(), fm, seqs, UnstructuredOptions{Method: method, Sparsity: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range res.Blocks {
			total[method] += b.OutputError
		}
		errs[method] = res.Blocks
	}
	if !(total[MethodSparseGPT] < total[MethodWanda] && total[MethodWanda] <= total[MethodMagnitude]) {
		t.Errorf("summed block output errors: sparsegpt %g, wanda %g, magnitude %g", total[MethodSparseGPT], total[MethodWanda], total[MethodMagnitude])
	}
}

// TestPruneModelDeterministic checks that the pruned file is the same bytes for any thread
// count.
func TestPruneModelDeterministic(t *testing.T) {
	path := miniFloatModel(t, gguf.TypeF32)
	seqs := calibSeqs(2, 40, 512)
	var first []byte
	for _, threads := range []int{1, 3} {
		fm, err := LoadFloat(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := PruneModel(context.Background(), fm, seqs, UnstructuredOptions{Method: MethodSparseGPT, Sparsity: 0.5, Threads: threads}); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out.gguf")
		if err := fm.WriteGGUF(out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatalf("threads %d gave different bytes than threads 1", threads)
		}
	}
}

func TestPruneModelSchedule(t *testing.T) {
	fm, err := LoadFloat(miniFloatModel(t, gguf.TypeF32))
	if err != nil {
		t.Fatal(err)
	}
	sched, err := ParseSchedule("0:0.25\n2:0.75")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PruneModel(context.Background(), fm, nil, UnstructuredOptions{Method: MethodMagnitude, Sparsity: 0.5, Schedule: sched}); err != nil {
		t.Fatal(err)
	}
	for b, want := range []float64{0.25, 0.5, 0.75} {
		w, _ := fm.Matrix(fmt.Sprintf("blk.%d.ffn_up.weight", b))
		if got := zeroFraction(w.Data); math.Abs(got-want) > 0.01 {
			t.Errorf("block %d: sparsity %.3f, want %.2f", b, got, want)
		}
	}
}

func TestPruneModelBadInput(t *testing.T) {
	path := tinyFloatModel(t, gguf.TypeF32)
	seqs := calibSeqs(1, 16, 2048)
	for _, tc := range []struct {
		name string
		o    UnstructuredOptions
		seqs [][]int32
	}{
		{"sparsity 1", UnstructuredOptions{Method: MethodMagnitude, Sparsity: 1}, nil},
		{"negative sparsity", UnstructuredOptions{Method: MethodMagnitude, Sparsity: -0.1}, nil},
		{"pattern not dividing rows", UnstructuredOptions{Method: MethodMagnitude, Pattern: Pattern{N: 3, M: 7}}, nil},
		{"sparsity against pattern", UnstructuredOptions{Method: MethodMagnitude, Sparsity: 0.3, Pattern: Pattern{N: 2, M: 4}}, nil},
		{"schedule past the blocks", UnstructuredOptions{Method: MethodMagnitude, Sparsity: 0.5, Schedule: map[int]float64{4: 0.5}}, nil},
		{"wanda without data", UnstructuredOptions{Method: MethodWanda, Sparsity: 0.5}, nil},
		{"unknown method", UnstructuredOptions{Method: "obs", Sparsity: 0.5}, seqs},
	} {
		fm, err := LoadFloat(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := PruneModel(context.Background(), fm, tc.seqs, tc.o); !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: error %v, want ErrBadInput", tc.name, err)
		}
		if _, z := fm.Params(); z != 0 {
			t.Errorf("%s: %d weights zeroed before the error", tc.name, z)
		}
	}
	if _, err := CalibrationSequences(make([]int32, 100), 2, 64, 1); !errors.Is(err, ErrBadInput) {
		t.Errorf("too little calibration data: %v", err)
	}
	for _, s := range []string{"0:1", "a:0.5", "1:0.5,1:0.3", "2"} {
		if _, err := ParseSchedule(s); !errors.Is(err, ErrBadInput) {
			t.Errorf("schedule %q: %v", s, err)
		}
	}
	if _, err := LoadFloat(tinyFloatModel(t, gguf.TypeQ8_0)); !errors.Is(err, ErrQuantized) || !errors.Is(err, ErrBadInput) {
		t.Errorf("quantized input: %v", err)
	}
}

func TestFloatModelDropLayers(t *testing.T) {
	path := tinyFloatModel(t, gguf.TypeF32)
	fm, err := LoadFloat(path)
	if err != nil {
		t.Fatal(err)
	}
	want := fm.Tensors["blk.3.ffn_up.weight"].Data
	if err := fm.DropLayers([]int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if fm.Config.Layers != 2 || &fm.Tensors["blk.1.ffn_up.weight"].Data[0] != &want[0] {
		t.Fatalf("after dropping: %d layers, blk.1 is not the old blk.3", fm.Config.Layers)
	}
	out := filepath.Join(t.TempDir(), "dropped.gguf")
	if err := fm.WriteGGUF(out); err != nil {
		t.Fatal(err)
	}
	m, err := runtime.Load(out, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Config().Layers != 2 {
		t.Errorf("reloaded with %d layers", m.Config().Layers)
	}
	for _, drop := range [][]int{{0, 0}, {5}} {
		if err := fm.DropLayers(drop); !errors.Is(err, ErrBadInput) {
			t.Errorf("drop %v: %v", drop, err)
		}
	}
}

// TestLoadFloatHFMatchesGGUF reads the fixture teacher's Hugging Face folder and llama.cpp's F32
// conversion of it: the same tensors, names, shapes and values (BF16 widens exactly).
func TestLoadFloatHFMatchesGGUF(t *testing.T) {
	fx := filepath.Join(testfixtures.Shared(t), "fixtures", "shakespeare-llama")
	hf, err := LoadFloat(filepath.Join(fx, "hf"))
	if err != nil {
		t.Fatal(err)
	}
	gg, err := LoadFloat(filepath.Join(fx, "gguf", "teacher-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hf.Names, gg.Names) || hf.Config.Layers != gg.Config.Layers {
		t.Fatalf("tensors %v\nvs %v", hf.Names, gg.Names)
	}
	for _, n := range gg.Names {
		a, b := hf.Tensors[n], gg.Tensors[n]
		if !slices.Equal(a.Dims, b.Dims) || !slices.Equal(a.Data, b.Data) {
			t.Fatalf("%s differs", n)
		}
	}
}
