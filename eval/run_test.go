package eval

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/runtime"
)

// TestRunConsistency runs two fixture models through Run and checks that the perplexity Run
// derives from the KL-divergence pass equals a direct Perplexity run, that tasks are scored on
// every model, and that the sliding window gives no KL-divergence.
func TestRunConsistency(t *testing.T) {
	dir := fixtureDir(t)
	ctx := context.Background()
	q8, q4 := filepath.Join(dir, "gguf", "teacher-Q8_0.gguf"), filepath.Join(dir, "gguf", "teacher-Q4_0.gguf")
	valid := filepath.Join(dir, "valid.txt")
	o := Options{Models: []string{q8, q4}, Data: valid, Context: 64, MaxChunks: 6, SkipLatency: true,
		Tasks: []string{filepath.Join("testdata", "tasks", "piqa.jsonl")}}
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Models) != 2 || !r.Models[0].IsBase || r.Models[0].KLD != nil || r.Models[1].KLD == nil {
		t.Fatalf("models: %+v", r.Models)
	}
	if r.Data.Chunks != 6 || r.Data.Scored != 6*31 || r.SpeedMetric != "ppl_tokens_per_second" {
		t.Errorf("data %+v, speed metric %q", r.Data, r.SpeedMetric)
	}
	m, err := runtime.Load(q4, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	text, err := ReadText(valid, defaultDataOptions)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := Tokenize(m, text)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := Perplexity(ctx, m, tokens, PerplexityOptions{Context: 64, MaxChunks: 6})
	if err != nil {
		t.Fatal(err)
	}
	// KLDivergence sums NLLs in float32 steps (as llama.cpp does), Perplexity in float64.
	if got := r.Models[1].Perplexity.PPL; math.Abs(got/direct.PPL-1) > 1e-5 {
		t.Errorf("PPL through KLD %.8f, direct %.8f", got, direct.PPL)
	}
	if k := r.Models[1].KLD; math.Abs(k.BasePPL/r.Models[0].Perplexity.PPL-1) > 1e-3 {
		t.Errorf("base PPL from the stored log-probabilities %.6f, measured %.6f", k.BasePPL, r.Models[0].Perplexity.PPL)
	}
	for _, mr := range r.Models {
		if len(mr.Tasks) != 1 || mr.Tasks[0].Examples != 2 || mr.Size.Params == 0 {
			t.Errorf("%s: tasks %+v, size %+v", mr.Name, mr.Tasks, mr.Size)
		}
	}

	o.Stride, o.Tasks = 32, nil
	r, err = Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Models[1].KLD != nil || r.Data.Stride != 32 || r.Models[1].Perplexity.Scored != 6*32 {
		t.Errorf("stride run: KLD %v, data %+v, scored %d", r.Models[1].KLD, r.Data, r.Models[1].Perplexity.Scored)
	}
	o.Gates.MaxKLD = 0.1
	if _, err := Run(ctx, o); err == nil {
		t.Error("a KLD gate with a stride: no error")
	}
}

// TestScoreCacheMatchesFullForward checks the multiple-choice scorer, which reuses the
// context's KV cache across choices, against scoring each request with one full forward pass.
func TestScoreCacheMatchesFullForward(t *testing.T) {
	dir := fixtureDir(t)
	m, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-Q8_0.gguf"), runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	task, err := LoadTask(filepath.Join("testdata", "tasks", "hellaswag.jsonl"), TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := newScorer(m, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	full, err := m.NewSession(512)
	if err != nil {
		t.Fatal(err)
	}
	vocab := m.Config().VocabSize
	for i := range task.Examples {
		ex := &task.Examples[i]
		got, err := sc.scoreExample(ex)
		if err != nil {
			t.Fatal(err)
		}
		for j, choice := range ex.Choices {
			ctxEnc, contEnc, err := sc.encodePair(ex.Context, " "+choice)
			if err != nil {
				t.Fatal(err)
			}
			// The continuation's tokens are the whole string's tokens after the context's.
			whole, _ := sc.encode(ex.Context + " " + choice)
			if len(ctxEnc)+len(contEnc) != len(whole) {
				t.Errorf("example %d choice %d: %d+%d tokens, whole %d", i, j, len(ctxEnc), len(contEnc), len(whole))
			}
			seq := append(append(append([]int32{}, sc.prefix...), ctxEnc...), contEnc...)
			logits, err := full.Forward(seq[:len(seq)-1], 0, true)
			if err != nil {
				t.Fatal(err)
			}
			var ll float64
			for k, tok := range contEnc {
				row := len(seq) - 1 - len(contEnc) + k
				ll -= rowNLL(logits[row*vocab:(row+1)*vocab], tok)
			}
			if math.Abs(ll-got[j].LogLikelihood) > 1e-3 {
				t.Errorf("example %d choice %d: cached log-likelihood %.5f, full forward %.5f", i, j, got[j].LogLikelihood, ll)
			}
			if got[j].Tokens != len(contEnc) {
				t.Errorf("example %d choice %d: %d tokens, want %d", i, j, got[j].Tokens, len(contEnc))
			}
		}
	}
	// Trailing whitespace of the context moves to the continuation (lm-eval's _encode_pair).
	c1, k1, _ := sc.encodePair("Question: x\nAnswer: ", "yes")
	c2, k2, _ := sc.encodePair("Question: x\nAnswer:", " yes")
	if !equalTokens(c1, c2) || !equalTokens(k1, k2) {
		t.Errorf("trailing space not moved: %v %v vs %v %v", c1, k1, c2, k2)
	}
}
