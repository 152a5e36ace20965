package eval

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/runtime"
)

// TestThreadsSameResult checks that the per-row scoring, which runs on several goroutines,
// gives the same perplexity, the same KL-divergence base file and the same KLD statistics
// whatever the thread count.
func TestThreadsSameResult(t *testing.T) {
	dir, ref, text := loadReference(t)
	path := filepath.Join(dir, "gguf", "teacher-Q4_0.gguf")
	type out struct {
		ppl  *PerplexityResult
		base []byte
		kld  *KLDResult
	}
	run := func(threads int) out {
		m, err := runtime.Load(path, runtime.Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		tokens, err := Tokenize(m, string(text))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		r, err := Perplexity(context.Background(), m, tokens, PerplexityOptions{Context: ref.NCtx, MaxChunks: 6, SaveBase: &buf})
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "base.kld")
		if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := OpenKLBase(f)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		k, err := KLDivergence(context.Background(), m, b, KLDOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out{r, buf.Bytes(), k}
	}
	one, four := run(1), run(4)
	if one.ppl.PPL != four.ppl.PPL || one.ppl.Uncertainty != four.ppl.Uncertainty {
		t.Errorf("PPL %v ± %v with 1 thread, %v ± %v with 4", one.ppl.PPL, one.ppl.Uncertainty, four.ppl.PPL, four.ppl.Uncertainty)
	}
	if !bytes.Equal(one.base, four.base) {
		t.Errorf("KL-divergence base files differ between 1 and 4 threads")
	}
	if one.kld.MeanKLD != four.kld.MeanKLD || one.kld.SameTopP != four.kld.SameTopP || one.kld.PPL != four.kld.PPL {
		t.Errorf("KLD %+v with 1 thread, %+v with 4", *one.kld, *four.kld)
	}
	if one.kld.MeanKLD > 1e-3 {
		t.Errorf("a model against its own base: mean KLD %v, want about 0", one.kld.MeanKLD)
	}
}

// TestRowNLLInPlace checks the vector-exponential NLL against the float64 one on rows of
// several widths and ranges.
func TestRowNLLInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		n     int
		scale float32
	}{{1, 1}, {7, 3}, {2048, 5}, {32000, 10}, {151936, 20}} {
		row := make([]float32, c.n)
		for i := range row {
			row[i] = c.scale * float32(rng.NormFloat64())
		}
		tok := int32(rng.IntN(c.n))
		want := rowNLL(row, tok)
		got := rowNLLInPlace(append([]float32(nil), row...), tok)
		if d := math.Abs(got - want); d > 1e-5*max(1, math.Abs(want)) {
			t.Errorf("n=%d scale=%v: %v, float64 reference %v", c.n, c.scale, got, want)
		}
	}
}

// TestScoreTaskThreads checks that spreading a task's examples over sessions gives the same
// accuracies as one session.
func TestScoreTaskThreads(t *testing.T) {
	dir := fixtureDir(t)
	var results []*TaskResult
	for _, threads := range []int{1, 3} {
		m, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-Q4_K_M.gguf"), runtime.Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"hellaswag.jsonl", "arc.jsonl", "piqa.jsonl"} {
			task, err := LoadTask(filepath.Join("testdata", "tasks", name), TaskOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var calls int
			r, err := ScoreTask(context.Background(), m, task, ScoreOptions{Progress: func(done, total int64) {
				calls++
				if done != int64(calls) || total != int64(len(task.Examples)) {
					t.Errorf("%s: progress %d/%d at call %d", name, done, total, calls)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if calls != len(task.Examples) {
				t.Errorf("%s: %d progress calls for %d examples", name, calls, len(task.Examples))
			}
			r.Seconds = 0
			results = append(results, r)
		}
		m.Close()
	}
	for i := range len(results) / 2 {
		if a, b := *results[i], *results[i+len(results)/2]; a != b {
			t.Errorf("one thread %+v, three %+v", a, b)
		}
	}
}

// TestParallelSessions checks the memory bound on side-by-side sessions: many for the 4M
// fixture, one for a 7B-sized model with a long context.
func TestParallelSessions(t *testing.T) {
	dir := fixtureDir(t)
	m, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-Q4_0.gguf"), runtime.Options{Threads: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if n := parallelSessions(m, 256, 100); n != 8 {
		t.Errorf("fixture, 8 threads, 100 chunks: %d sessions, want 8", n)
	}
	if n := parallelSessions(m, 256, 3); n != 3 {
		t.Errorf("fixture, 3 chunks: %d sessions, want 3", n)
	}
	if b := sessionBytes(m.Config(), 256); b <= 0 || b > 64<<20 {
		t.Errorf("fixture session estimate %d bytes", b)
	}
	llama7B := convert.Config{Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 32, HeadDim: 128, FFN: 11008, VocabSize: 32000}
	for _, c := range []struct{ ctx, want int }{{512, 1}, {2048, 1}} {
		if n := sessionSlots(llama7B, 16, c.ctx, 1000); n != c.want {
			t.Errorf("7B, n_ctx %d, 16 threads: %d sessions, want %d", c.ctx, n, c.want)
		}
	}
	tiny1B := convert.Config{Layers: 22, Hidden: 2048, Heads: 32, KVHeads: 4, HeadDim: 64, FFN: 5632, VocabSize: 32000}
	if n := sessionSlots(tiny1B, 16, 512, 1000); n < 4 || n > 16 {
		t.Errorf("1.1B, n_ctx 512, 16 threads: %d sessions, want a handful", n)
	}
}
