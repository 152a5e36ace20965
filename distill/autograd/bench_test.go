package autograd

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks at the shapes of the teacher of ../shared (hidden 256, 8 heads, 4 KV heads,
// FFN 768, vocab 2048) and a training batch of 8 sequences of 256 tokens.
//
//	go test -run '^$' -bench . -benchtime 3x ./distill/autograd

const benchBatch, benchSeq = 8, 256

// cpuMeter reports a per-CPU-second rate beside the wall-clock one: on a shared machine the
// wall-clock rate depends on the other jobs, the CPU-time rate much less.
type cpuMeter struct{ start float64 }

func startCPU(b *testing.B) *cpuMeter {
	b.ResetTimer()
	return &cpuMeter{start: cpuSeconds()}
}

// report adds "unit/s" (wall clock) and "unit/cpu-s" metrics for work units per iteration.
func (m *cpuMeter) report(b *testing.B, work float64, unit string) {
	b.StopTimer()
	total := work * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), unit+"/s")
	if cpu := cpuSeconds() - m.start; cpu > 0 {
		b.ReportMetric(total/cpu, unit+"/cpu-s")
	}
}

var teacherShape = llamaConfig{vocab: 2048, hidden: 256, layers: 4, heads: 8, kvHeads: 4, ffn: 768, eps: 1e-5, theta: 10000, style: RoPENeoX}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

func randTensor[T Float](rng *rand.Rand, grad bool, scale float64, shape ...int) *Tensor[T] {
	t, _ := NewTensor[T](nil, shape...)
	for i := range t.Data {
		t.Data[i] = T(scale * rng.NormFloat64())
	}
	t.RequiresGrad = grad
	return t
}

func BenchmarkGEMM(b *testing.B) {
	n := benchBatch * benchSeq
	for _, c := range []struct {
		name           string
		m, n, k        int
		transA, transB bool
	}{
		{"x·Wqᵀ 2048x256x256", n, 256, 256, false, true},
		{"x·Wgateᵀ 2048x768x256", n, 768, 256, false, true},
		{"h·Wdownᵀ 2048x256x768", n, 256, 768, false, true},
		{"x·Wheadᵀ 2048x2048x256", n, 2048, 256, false, true},
		{"dY·W 2048x256x768", n, 256, 768, false, false},
		{"dYᵀ·X 768x256x2048", 768, 256, n, true, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			a := randTensor[float32](rng, false, 1, c.m*c.k).Data
			bb := randTensor[float32](rng, false, 1, c.k*c.n).Data
			out := make([]float32, c.m*c.n)
			lda, ldb := c.k, c.n
			if c.transA {
				lda = c.m
			}
			if c.transB {
				ldb = c.k
			}
			cm := startCPU(b)
			for i := 0; i < b.N; i++ {
				gemm(0, c.transA, c.transB, c.m, c.n, c.k, 1, a, lda, bb, ldb, 0, out, c.n)
			}
			cm.report(b, 2*float64(c.m*c.n*c.k)/1e9, "GFLOP")
		})
	}
}

// benchOp times forward+backward of one op on fresh inputs of the given shapes.
func benchOp(b *testing.B, f func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32], shapes ...[]int) {
	rng := rand.New(rand.NewPCG(2, 2))
	in := make([]*Tensor[float32], len(shapes))
	for i, s := range shapes {
		in[i] = randTensor[float32](rng, true, 1, s...)
	}
	tp := &Tape[float32]{}
	var seed []float32
	cm := startCPU(b)
	for i := 0; i < b.N; i++ {
		tp.Reset()
		out := f(tp, in)
		if seed == nil {
			seed = make([]float32, len(out.Data))
			for j := range seed {
				seed[j] = 1
			}
		}
		if err := tp.backwardFrom(out, seed); err != nil {
			b.Fatal(err)
		}
	}
	cm.report(b, float64(benchBatch*benchSeq), "tokens")
}

func BenchmarkOps(b *testing.B) {
	c := teacherShape
	n, d := benchBatch*benchSeq, c.headDim()
	pos := make([]int32, n)
	for i := range pos {
		pos[i] = int32(i % benchSeq)
	}
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(i * 7 % c.vocab)
	}
	ids := make([]int32, n)
	copy(ids, targets)
	rng := rand.New(rand.NewPCG(3, 3))
	teacher := randTensor[float32](rng, false, 2, n, c.vocab)
	b.Run("Linear 256->768", func(b *testing.B) {
		benchOp(b, func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] {
			return MatMul(tp, in[0], in[1], false, true)
		}, []int{benchBatch, benchSeq, c.hidden}, []int{c.ffn, c.hidden})
	})
	b.Run("Embedding", func(b *testing.B) {
		benchOp(b, func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] {
			return Embedding(tp, in[0], ids)
		}, []int{c.vocab, c.hidden})
	})
	b.Run("RMSNorm", func(b *testing.B) {
		benchOp(b, func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] {
			return RMSNorm(tp, in[0], in[1], 1e-5)
		}, []int{n, c.hidden}, []int{c.hidden})
	})
	b.Run("RoPE q", func(b *testing.B) {
		benchOp(b, func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] {
			return RoPE(tp, in[0], pos, RoPEConfig{HeadDim: d, Theta: 1e4, Style: RoPENeoX})
		}, []int{n, c.hidden})
	})
	b.Run("Attention", func(b *testing.B) {
		benchOp(b, func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] {
			return Attention(tp, in[0], in[1], in[2], AttentionConfig{Heads: c.heads, KVHeads: c.kvHeads, HeadDim: d})
		}, []int{benchBatch, benchSeq, c.hidden}, []int{benchBatch, benchSeq, c.kvHeads * d}, []int{benchBatch, benchSeq, c.kvHeads * d})
	})
	b.Run("SwiGLU", func(b *testing.B) {
		benchOp(b, func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] {
			return SwiGLU(tp, in[0], in[1])
		}, []int{n, c.ffn}, []int{n, c.ffn})
	})
	b.Run("Add", func(b *testing.B) {
		benchOp(b, func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] {
			return Add(tp, in[0], in[1])
		}, []int{n, c.hidden}, []int{n, c.hidden})
	})
	b.Run("CrossEntropy", func(b *testing.B) {
		benchOp(b, func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] {
			return CrossEntropy(tp, in[0], targets, -100)
		}, []int{n, c.vocab})
	})
	for _, rev := range []bool{false, true} {
		b.Run(fmt.Sprintf("KLDiv reverse=%v", rev), func(b *testing.B) {
			benchOp(b, func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] {
				return KLDiv(tp, in[0], teacher, KLDivOptions{Temperature: 2, Reverse: rev})
			}, []int{n, c.vocab})
		})
	}
}

// benchModel times a full training step (forward, loss, backward) of a model.
func benchModel(b *testing.B, cfg llamaConfig, kd bool) {
	m := randomLlama[float32](cfg, 1)
	for _, p := range m.params.List() {
		if len(p.Shape) == 2 {
			for i := range p.Data {
				p.Data[i] *= 0.1
			}
		}
	}
	n := benchBatch * benchSeq
	rng := rand.New(rand.NewPCG(4, 4))
	ids := make([]int32, n)
	targets := make([]int32, n)
	for i := range ids {
		ids[i] = int32(rng.IntN(cfg.vocab))
	}
	for i := range targets {
		targets[i] = int32(rng.IntN(cfg.vocab))
	}
	teacher := randTensor[float32](rng, false, 2, benchBatch, benchSeq, cfg.vocab)
	tp := &Tape[float32]{}
	step := func() {
		tp.Reset()
		m.params.ZeroGrad()
		logits := m.forward(tp, ids, benchBatch, benchSeq)
		var loss *Tensor[float32]
		if kd {
			loss = kdLoss(tp, logits, teacher, targets, -100, 0.5, 2, false)
		} else {
			loss = CrossEntropy(tp, logits, targets, -100)
		}
		if err := tp.Backward(loss); err != nil {
			b.Fatal(err)
		}
	}
	step() // warm the tape's buffer pool
	cm := startCPU(b)
	for i := 0; i < b.N; i++ {
		step()
	}
	cm.report(b, float64(n), "tokens")
}

// BenchmarkLlamaBlock is one transformer block of the teacher's shape (no embedding or head),
// forward and backward, 8×256 tokens.
func BenchmarkLlamaBlock(b *testing.B) {
	c := teacherShape
	c.layers = 1
	m := randomLlama[float32](c, 1)
	n := benchBatch * benchSeq
	rng := rand.New(rand.NewPCG(5, 5))
	x := randTensor[float32](rng, true, 1, benchBatch, benchSeq, c.hidden)
	pos := make([]int32, n)
	for i := range pos {
		pos[i] = int32(i % benchSeq)
	}
	p := m.params.Get
	d := c.headDim()
	tp := &Tape[float32]{}
	var seed []float32
	cm := startCPU(b)
	for i := 0; i < b.N; i++ {
		tp.Reset()
		lin := func(x *Tensor[float32], w string) *Tensor[float32] { return MatMul(tp, x, p(w), false, true) }
		h := RMSNorm(tp, x, p("model.layers.0.input_layernorm.weight"), c.eps)
		q := RoPE(tp, lin(h, "model.layers.0.self_attn.q_proj.weight"), pos, RoPEConfig{HeadDim: d, Theta: c.theta, Style: c.style})
		k := RoPE(tp, lin(h, "model.layers.0.self_attn.k_proj.weight"), pos, RoPEConfig{HeadDim: d, Theta: c.theta, Style: c.style})
		v := lin(h, "model.layers.0.self_attn.v_proj.weight")
		a := Attention(tp, q, k, v, AttentionConfig{Heads: c.heads, KVHeads: c.kvHeads, HeadDim: d})
		y := Add(tp, x, lin(a, "model.layers.0.self_attn.o_proj.weight"))
		h = RMSNorm(tp, y, p("model.layers.0.post_attention_layernorm.weight"), c.eps)
		y = Add(tp, y, lin(SwiGLU(tp, lin(h, "model.layers.0.mlp.gate_proj.weight"), lin(h, "model.layers.0.mlp.up_proj.weight")), "model.layers.0.mlp.down_proj.weight"))
		if seed == nil {
			seed = make([]float32, len(y.Data))
			for j := range seed {
				seed[j] = 1e-3
			}
		}
		if err := tp.backwardFrom(y, seed); err != nil {
			b.Fatal(err)
		}
	}
	cm.report(b, float64(n), "tokens")
}

// BenchmarkTeacherStep is a full training step of the 4.2M-parameter teacher shape with a
// cross-entropy loss; BenchmarkTeacherStepKD adds the distillation KL term.
func BenchmarkTeacherStep(b *testing.B)   { benchModel(b, teacherShape, false) }
func BenchmarkTeacherStepKD(b *testing.B) { benchModel(b, teacherShape, true) }

// BenchmarkTeacherForwardNoGrad is an inference pass of the teacher shape (logits for 8×256
// tokens) on a NoGrad tape, as a distillation step needs for the teacher.
func BenchmarkTeacherForwardNoGrad(b *testing.B) {
	m := randomLlama[float32](teacherShape, 1)
	n := benchBatch * benchSeq
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i * 13 % teacherShape.vocab)
	}
	tp := &Tape[float32]{NoGrad: true}
	m.forward(tp, ids, benchBatch, benchSeq)
	cm := startCPU(b)
	for i := 0; i < b.N; i++ {
		tp.Reset()
		m.forward(tp, ids, benchBatch, benchSeq)
		if tp.Err() != nil {
			b.Fatal(tp.Err())
		}
	}
	cm.report(b, float64(n), "tokens")
}
