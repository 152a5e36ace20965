package prune

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/distill"
	"github.com/mcompress/mcompress/runtime"
)

// toDistill copies pruned weights into a distill.Model (for saving and training).
func toDistill(t testing.TB, cfg convert.Config, w map[string]runtime.Tensor, md gguf.Metadata) *distill.Model {
	t.Helper()
	dm, err := distill.NewModel(cfg, md)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dm.Params.List() {
		src, ok := w[p.Name]
		if !ok || len(src.Data) != len(p.Data) {
			t.Fatalf("%s: pruned tensor missing or of %d values, want shape %v", p.Name, len(src.Data), p.Shape)
		}
		copy(p.Data, src.Data)
	}
	if rf, ok := w["rope_freqs.weight"]; ok {
		dm.RopeFactors = slices.Clone(rf.Data)
	}
	return dm
}

// fromDistill returns the weights of a distill.Model in runtime.FromTensors's form.
func fromDistill(m *distill.Model) map[string]runtime.Tensor {
	w := make(map[string]runtime.Tensor, m.Params.Len())
	for _, p := range m.Params.List() {
		dims := slices.Clone(p.Shape)
		slices.Reverse(dims)
		w[p.Name] = runtime.Tensor{Dims: dims, Data: p.Data}
	}
	if m.RopeFactors != nil {
		w["rope_freqs.weight"] = runtime.Tensor{Dims: []int{len(m.RopeFactors)}, Data: m.RopeFactors}
	}
	return w
}

// TestPrunedModelSaves saves a model whose pruned hidden size is no longer heads × head_dim
// through distill (the GGUF and Hugging Face writers of convert) and checks that the files
// say so (attention.key_length, config.json's head_dim) and that the GGUF computes the same
// logits as the pruned weights in memory: what llama.cpp and transformers need to load it.
func TestPrunedModelSaves(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tinyConfig(arch)
			cfg.VocabSize = 300 // room for the placeholder vocabulary of a random model
			rnd := filepath.Join(dir, "random.gguf")
			if err := runtime.WriteRandomModel(rnd, runtime.RandomModelOptions{Config: cfg, Type: gguf.TypeF32, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Open(rnd)
			if err != nil {
				t.Fatal(err)
			}
			md := slices.Clone(f.Metadata)
			f.Close()

			nc, nw, _, err := ApplyStructured(cfg, randomWeights(cfg, 11), randomImportance(cfg, 12), StructuredSpec{Heads: 4, Hidden: 24, FFN: 40})
			if err != nil {
				t.Fatal(err)
			}
			if nc.Heads*nc.HeadDim == nc.Hidden {
				t.Fatalf("test needs hidden ≠ heads × head_dim, got %d = %d × %d", nc.Hidden, nc.Heads, nc.HeadDim)
			}
			want := logits(t, nc, nw)
			hf, out := filepath.Join(dir, "hf"), filepath.Join(dir, "pruned.gguf")
			if err := toDistill(t, nc, nw, md).Save(context.Background(), hf, out, distill.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(hf, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			var hc map[string]any
			if err := json.Unmarshal(raw, &hc); err != nil {
				t.Fatal(err)
			}
			if hc["head_dim"] != float64(nc.HeadDim) || hc["hidden_size"] != float64(nc.Hidden) || hc["num_attention_heads"] != float64(nc.Heads) {
				t.Errorf("config.json: head_dim %v, hidden_size %v, heads %v; want %d, %d, %d", hc["head_dim"], hc["hidden_size"], hc["num_attention_heads"], nc.HeadDim, nc.Hidden, nc.Heads)
			}
			g, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			kl, _ := g.Metadata.Uint(nc.Arch + ".attention.key_length")
			vl, _ := g.Metadata.Uint(nc.Arch + ".attention.value_length")
			g.Close()
			if kl != uint64(nc.HeadDim) || vl != uint64(nc.HeadDim) {
				t.Errorf("GGUF key_length %d, value_length %d; want %d", kl, vl, nc.HeadDim)
			}
			m, err := runtime.Load(out, runtime.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			lc := m.Config()
			m.Close()
			if lc.Hidden != nc.Hidden || lc.Heads != nc.Heads || lc.KVHeads != nc.KVHeads || lc.HeadDim != nc.HeadDim || lc.FFN != nc.FFN {
				t.Errorf("saved model loads as %+v, want %+v", lc, nc)
			}
			back, err := distill.LoadModel(hf)
			if err != nil {
				t.Fatal(err)
			}
			if got := logits(t, back.Config, fromDistill(back)); !slices.Equal(got, want) {
				t.Errorf("the saved folder's logits differ from the pruned model's by %g", maxDiff(got, want))
			}
			back, err = distill.LoadModel(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := logits(t, back.Config, fromDistill(back)); !slices.Equal(got, want) {
				t.Errorf("the saved GGUF's logits differ from the pruned model's by %g", maxDiff(got, want))
			}
		})
	}
}

// Prune-then-distill on the fixture teacher (docs/PRUNE-STRUCTURED.md): a structured prune to
// about half the parameters, then distillation from the unpruned teacher for a fixed budget,
// against the pruned model before distillation and the same shape distilled from random
// weights on the same budget (and, for reference, the pruned model fine-tuned with cross-entropy
// alone). It takes a few minutes on 2 cores, so it does not run with
// -short; PRUNE_DISTILL_TOKENS changes the budget (default 32768 tokens).
func TestPruneThenDistillFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("minutes of training; run without -short")
	}
	budget := int64(32768)
	if s := os.Getenv("PRUNE_DISTILL_TOKENS"); s != "" {
		if _, err := fmt.Sscan(s, &budget); err != nil {
			t.Fatalf("PRUNE_DISTILL_TOKENS=%q: %v", s, err)
		}
	}
	ctx := context.Background()
	dir := t.TempDir()
	if d := os.Getenv("PRUNE_DISTILL_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	start := time.Now()

	// 1. Importance on 64 sequences of 256 tokens of train.txt.
	ft := loadFixtureTeacher(t)
	teacher, cfg, imp, teacherPath, train, valid := ft.model, ft.model.Config, ft.imp, ft.path, ft.train, ft.valid

	// 2. Prune to about half: 2 of 4 KV groups (4 of 8 query heads), FFN 768 → 384, hidden
	// 256 → 192.
	spec := StructuredSpec{Heads: 4, FFN: 384, Hidden: 192, HeadMode: HeadsWholeGroups}
	nc, nw, rep, err := ApplyStructured(cfg, fromDistill(teacher), imp, spec)
	if err != nil {
		t.Fatal(err)
	}
	pruned := filepath.Join(dir, "pruned.gguf")
	if err := toDistill(t, nc, nw, teacher.Metadata).Save(ctx, filepath.Join(dir, "pruned-hf"), pruned, distill.SaveOptions{Name: "pruned"}); err != nil {
		t.Fatal(err)
	}
	t.Logf("pruned %s: %d → %d parameters (%.1f%%), head_dim %d, hidden %d; calibration and prune %s",
		spec, rep.ParamsBefore, rep.ParamsAfter, 100*float64(rep.ParamsAfter)/float64(rep.ParamsBefore), nc.HeadDim, nc.Hidden, time.Since(start).Round(time.Second))

	ppl := func(path string) float64 {
		t.Helper()
		m, err := runtime.Load(path, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		return ft.perplexity(t, m)
	}
	teacherPPL, prunedPPL := ppl(teacherPath), ppl(pruned)

	// 3. Distil the pruned model, and the same shape from random weights, on the same budget.
	alpha := 0.9
	run := func(name string, student distill.StudentOptions) float64 {
		t.Helper()
		t0 := time.Now()
		res, err := distill.Run(ctx, distill.Options{
			Teacher: teacherPath,
			Student: student,
			Data:    distill.DataOptions{Path: train, Valid: valid},
			SeqLen:  256, Batch: 8, Tokens: budget,
			Optim:  distill.AdamWOptions{LR: 2e-3},
			Warmup: 4,
			Loss:   distill.LossOptions{Alpha: alpha, Temperature: 1},
			Seed:   1,
			Output: filepath.Join(dir, name),
		})
		if err != nil {
			t.Fatal(err)
		}
		p := ppl(res.GGUF)
		t.Logf("%s: %d steps, %d tokens, %d parameters, perplexity %.2f (%s)", name, res.Steps, res.Tokens, res.Params, p, time.Since(t0).Round(time.Second))
		return p
	}
	distilled := run("distilled", distill.StudentOptions{Path: pruned})
	alpha = 0 // the pruned model fine-tuned on the labels alone, for reference
	finetuned := run("finetuned", distill.StudentOptions{Path: pruned})
	alpha = 0.9
	scratch := run("scratch", distill.StudentOptions{Init: "random", Overrides: distill.ConfigOverrides{
		Layers: nc.Layers, Hidden: nc.Hidden, Heads: nc.Heads, KVHeads: nc.KVHeads, HeadDim: nc.HeadDim, FFN: nc.FFN}})

	t.Logf("valid.txt perplexity (n_ctx 256): teacher %.2f, pruned %.2f, pruned+distilled %.2f, pruned+fine-tuned (cross-entropy) %.2f, same shape distilled from scratch %.2f",
		teacherPPL, prunedPPL, distilled, finetuned, scratch)
	if !(distilled < prunedPPL && distilled < scratch) {
		t.Errorf("pruned+distilled %.2f should beat the pruned model (%.2f) and the same shape from scratch (%.2f)", distilled, prunedPPL, scratch)
	}
}
