package distill

import (
	"context"
	"path/filepath"
	"testing"
)

// TestDistillBeatsCrossEntropy: on a tiny budget, the same student (same random start, same
// data order) reaches a lower validation perplexity when distilled from the fixture teacher
// than when trained on the hard labels alone. docs/DISTILL.md records the full-size experiment.
func TestDistillBeatsCrossEntropy(t *testing.T) {
	dir := fixtureDir(t)
	data := headOfFile(t, filepath.Join(dir, "train.txt"), 60000)
	valid := headOfFile(t, filepath.Join(dir, "valid.txt"), 12000)
	run := func(alpha float64) *Result {
		o := DefaultOptions()
		o.Teacher = filepath.Join(dir, "gguf", "teacher-F32.gguf")
		o.Student.Overrides, o.Student.Init = ConfigOverrides{Layers: 1, Hidden: 64, Heads: 2, KVHeads: 1, FFN: 128}, "random"
		o.Data = DataOptions{Path: data, Valid: valid}
		o.SeqLen, o.Batch, o.Steps, o.Warmup = 64, 4, 40, 4
		o.Loss = LossOptions{Alpha: alpha, Temperature: 2}
		o.Optim.LR, o.MinLR = 3e-3, 3e-4
		o.Seed, o.Output = 1, filepath.Join(t.TempDir(), "run")
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	ce, kd := run(0), run(0.7)
	t.Logf("validation perplexity after %d tokens: cross-entropy %.2f, distilled %.2f (KL to the teacher %.3f)", kd.Tokens, ce.Valid.Perplexity, kd.Valid.Perplexity, kd.Valid.KL)
	if !(kd.Valid.Perplexity < ce.Valid.Perplexity) {
		t.Errorf("distilled student's perplexity %.2f is not below the cross-entropy student's %.2f", kd.Valid.Perplexity, ce.Valid.Perplexity)
	}
}
