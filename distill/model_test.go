package distill

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
)

// tinyConfig returns a small configuration of the given architecture.
func tinyConfig(arch string) convert.Config {
	c := convert.Config{Arch: arch, HFModelType: arch, VocabSize: 96, Hidden: 32, Layers: 2, Heads: 4, KVHeads: 2,
		HeadDim: 8, FFN: 48, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 8, BOS: -1, EOS: -1}
	switch arch {
	case "qwen2":
		c.RopeNeoX, c.AttentionBias = true, true
	case "qwen3":
		c.RopeNeoX, c.QKNorm, c.HeadDim, c.RopeDim = true, true, 16, 16
	}
	return c
}

// runtimeLogits runs tokens through the runtime model and returns every position's logits.
func runtimeLogits(t *testing.T, rm *runtime.Model, tokens []int32) []float32 {
	t.Helper()
	s, err := rm.NewSession(len(tokens))
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Forward(tokens, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// modelLogits runs batch copies of tokens through m.
func modelLogits(t *testing.T, m *Model, tokens []int32, batch int) []float32 {
	t.Helper()
	ids := make([]int32, 0, batch*len(tokens))
	for range batch {
		ids = append(ids, tokens...)
	}
	tp := &Tape{NoGrad: true}
	logits, err := m.Forward(tp, ids, batch, len(tokens))
	if err != nil {
		t.Fatal(err)
	}
	return logits.Data
}

// TestRuntimeParity: the trainable model and the runtime give the same logits for the same
// weights, for every architecture variant (GQA, qwen2 biases, qwen3 q/k norms, tied output,
// linear RoPE scaling), loaded from the same GGUF file.
func TestRuntimeParity(t *testing.T) {
	tied := tinyConfig("llama")
	tied.TiedEmbeddings = true
	mha := tinyConfig("llama")
	mha.KVHeads = 4
	scaled := tinyConfig("llama")
	scaled.RopeScaling = convert.RopeScaling{Type: "linear", Factor: 4}
	for _, c := range []struct {
		name string
		cfg  convert.Config
	}{{"llama-gqa", tinyConfig("llama")}, {"llama-tied", tied}, {"llama-mha", mha}, {"llama-linear-rope", scaled},
		{"qwen2", tinyConfig("qwen2")}, {"qwen3", tinyConfig("qwen3")}} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.gguf")
			if err := runtime.WriteRandomModel(path, runtime.RandomModelOptions{Config: c.cfg, Type: gguf.TypeF32, Seed: 7}); err != nil {
				t.Fatal(err)
			}
			m, err := LoadModel(path)
			if err != nil {
				t.Fatal(err)
			}
			if m.Config.TiedEmbeddings != c.cfg.TiedEmbeddings || m.Config.AttentionBias != c.cfg.AttentionBias || m.Config.QKNorm != c.cfg.QKNorm {
				t.Fatalf("loaded config %+v, wrote %+v", m.Config, c.cfg)
			}
			rm, err := runtime.Load(path, runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer rm.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			tokens := make([]int32, 24)
			for i := range tokens {
				tokens[i] = int32(rng.IntN(c.cfg.VocabSize))
			}
			want := runtimeLogits(t, rm, tokens)
			got := modelLogits(t, m, tokens, 2)
			for b := range 2 {
				if e := relErr(got[b*len(want):(b+1)*len(want)], want); e > 1e-5 {
					t.Errorf("sequence %d: logits differ from the runtime's: relative error %.3g", b, e)
				}
			}
			// The same weights served from memory by Model.Runtime agree too.
			rm2, err := m.Runtime(0)
			if err != nil {
				t.Fatal(err)
			}
			defer rm2.Close()
			if e := relErr(runtimeLogits(t, rm2, tokens), want); e != 0 {
				t.Errorf("Model.Runtime logits differ from the file's: %.3g", e)
			}
		})
	}
}

// TestFixtureParity: the fixture teacher read from hf/ (BF16, through the converter) and from
// gguf/teacher-F32.gguf give the same parameters, and its logits match the runtime's and the
// PyTorch golden logits.
func TestFixtureParity(t *testing.T) {
	dir := fixtureDir(t)
	hf, err := LoadModel(filepath.Join(dir, "hf"))
	if err != nil {
		t.Fatal(err)
	}
	gg, err := LoadModel(filepath.Join(dir, "gguf", "teacher-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := hf.Config, gg.Config
	a.Name, b.Name = "", ""
	if a != b {
		t.Errorf("configs differ:\nhf   %+v\ngguf %+v", hf.Config, gg.Config)
	}
	for _, p := range hf.Params.List() {
		q := gg.Params.Get(p.Name)
		if q == nil || relErr(p.Data, q.Data) != 0 {
			t.Errorf("%s differs between hf/ and teacher-F32.gguf", p.Name)
		}
	}
	tokens := goldenTokens(t)
	rm, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-F32.gguf"), runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	got := modelLogits(t, gg, tokens, 1)
	if e := relErr(got, runtimeLogits(t, rm, tokens)); e > 1e-5 {
		t.Errorf("logits differ from the runtime's: %.3g", e)
	}
	if e := relErr(got, goldenLogits(t)); e > 1e-5 {
		t.Errorf("logits differ from the golden logits: %.3g", e)
	}
}

// TestSaveRoundTrip: Save writes a folder and a GGUF that load back to the same parameters, that
// the runtime runs with the model's logits, for each architecture; the folder converts to the
// same GGUF bytes.
func TestSaveRoundTrip(t *testing.T) {
	dir := fixtureDir(t)
	_, md, err := ReadModelInfo(filepath.Join(dir, "gguf", "teacher-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	tied := tinyConfig("llama")
	tied.TiedEmbeddings = true
	for _, arch := range []string{"llama", "tied", "qwen2", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			var c convert.Config
			if arch == "tied" {
				c = tied
			} else {
				c = tinyConfig(arch)
			}
			c.VocabSize = 2048 // the fixture tokenizer's
			m, err := NewModel(c, md)
			if err != nil {
				t.Fatal(err)
			}
			m.InitRandom(3, 0.5)
			out := t.TempDir()
			hfDir, ggufPath := filepath.Join(out, "hf"), filepath.Join(out, "model.gguf")
			if err := m.Save(context.Background(), hfDir, ggufPath, SaveOptions{Name: "tiny"}); err != nil {
				t.Fatal(err)
			}
			ents, _ := os.ReadDir(out)
			if len(ents) != 2 {
				t.Errorf("output folder holds %d entries, want hf/ and model.gguf only", len(ents))
			}
			for _, path := range []string{hfDir, ggufPath} {
				back, err := LoadModel(path)
				if err != nil {
					t.Fatal(err)
				}
				if back.Config.Hidden != c.Hidden || back.Config.Arch != c.Arch || back.Config.TiedEmbeddings != c.TiedEmbeddings || back.Config.QKNorm != c.QKNorm || back.Config.AttentionBias != c.AttentionBias {
					t.Fatalf("%s: config %+v, saved %+v", path, back.Config, c)
				}
				for _, p := range m.Params.List() {
					q := back.Params.Get(p.Name)
					if q == nil || relErr(q.Data, p.Data) != 0 {
						t.Fatalf("%s: parameter %s does not round-trip", path, p.Name)
					}
				}
				if TokenizerFingerprint(back.Metadata) != TokenizerFingerprint(md) {
					t.Errorf("%s: tokenizer changed", path)
				}
			}
			rm, err := runtime.Load(ggufPath, runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer rm.Close()
			tokens := []int32{1, 50, 60, 70, 80, 2000, 13, 13}
			if e := relErr(modelLogits(t, m, tokens, 1), runtimeLogits(t, rm, tokens)); e > 1e-5 {
				t.Errorf("runtime on the saved GGUF: logits relative error %.3g", e)
			}
		})
	}
}
