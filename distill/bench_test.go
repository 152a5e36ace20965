package distill

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcompress/mcompress/convert"
)

// Training-step benchmarks at batch 8 × 256 tokens (forward, loss, backward, clipping and AdamW,
// through the loop's own step function), for the shape of the fixture teacher and for the
// quarter-size student of docs/DISTILL.md:
//
//	go test -run '^$' -bench TrainStep -benchtime 5x ./distill
//
// Sub-benchmarks: ce (cross-entropy only), kd-topk32 (offline distillation from a cache),
// kd-online (the fixture teacher run by the runtime on every batch; needs ../shared), and
// adamw (the optimizer step alone, to show what the loop adds).

var (
	benchTeacher = convert.Config{Arch: "llama", HFModelType: "llama", VocabSize: 2048, Hidden: 256, Layers: 4, Heads: 8, KVHeads: 4,
		HeadDim: 32, FFN: 768, ContextLength: 512, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 32, BOS: 1, EOS: 2}
	benchStudent = func() convert.Config {
		c := benchTeacher
		c.Layers, c.Hidden, c.Heads, c.KVHeads, c.HeadDim, c.RopeDim, c.FFN = 3, 128, 4, 2, 32, 32, 384
		return c
	}()
)

const benchBatch, benchSeq = 8, 256

// benchRunner prepares a runner whose step can be timed.
func benchRunner(b *testing.B, c convert.Config, o Options) *runner {
	m, err := NewModel(c, nil)
	if err != nil {
		b.Fatal(err)
	}
	m.InitRandom(1, 0.02)
	rng := rand.New(rand.NewPCG(1, 1))
	train := make([][]int32, 64)
	for i := range train {
		train[i] = make([]int32, benchSeq)
		for j := range train[i] {
			train[i][j] = int32(rng.IntN(c.VocabSize))
		}
	}
	o.SeqLen, o.Batch, o.Accum = benchSeq, benchBatch, 1
	o.defaults()
	r := &runner{o: o, m: m, train: train, tp: &Tape{}}
	r.opt = NewAdamW(m.Params.List(), o.Optim)
	r.samp = newSampler(len(train), 1)
	return r
}

func benchSteps(b *testing.B, r *runner) {
	if _, _, err := r.step(1e-3); err != nil { // warm the tape's buffers
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, _, err := r.step(1e-3); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch*benchSeq)/time.Since(start).Seconds(), "tok/s")
}

func BenchmarkTrainStep(b *testing.B) {
	for _, shape := range []struct {
		name string
		cfg  convert.Config
	}{{"teacher-shape", benchTeacher}, {"student", benchStudent}} {
		b.Run(shape.name+"/ce", func(b *testing.B) {
			benchSteps(b, benchRunner(b, shape.cfg, DefaultOptions()))
		})
		b.Run(shape.name+"/kd-topk32", func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.topk")
			if err := os.WriteFile(path, syntheticCache(b, shape.cfg.VocabSize, 32, benchSeq, 16), 0o644); err != nil {
				b.Fatal(err)
			}
			c, err := OpenCache(path)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			r := benchRunner(b, shape.cfg, withLoss(DefaultOptions(), LossOptions{Alpha: 0.5, Temperature: 2}))
			r.cache = c
			r.train = r.train[:c.Sequences("train")]
			r.samp = newSampler(len(r.train), 1)
			benchSteps(b, r)
		})
		b.Run(shape.name+"/kd-online", func(b *testing.B) {
			t, err := OpenTeacher(filepath.Join(fixtureDir(b), "gguf", "teacher-F32.gguf"), 0)
			if err != nil {
				b.Fatal(err)
			}
			defer t.Close()
			r := benchRunner(b, shape.cfg, withLoss(DefaultOptions(), LossOptions{Alpha: 0.5, Temperature: 2}))
			r.teacher = t
			benchSteps(b, r)
		})
		b.Run(shape.name+"/adamw", func(b *testing.B) {
			r := benchRunner(b, shape.cfg, DefaultOptions())
			for _, p := range r.m.Params.List() {
				p.Grad = make([]float32, len(p.Data))
			}
			b.ResetTimer()
			for range b.N {
				r.opt.Step(1e-3)
			}
			b.ReportMetric(float64(b.N*benchBatch*benchSeq)/b.Elapsed().Seconds(), "tok/s-equiv")
		})
	}
}

// withLoss returns o with its Loss set.
func withLoss(o Options, l LossOptions) Options { o.Loss = l; return o }
