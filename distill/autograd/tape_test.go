package autograd

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func mustTensor[T Float](t testing.TB, data []T, shape ...int) *Tensor[T] {
	t.Helper()
	x, err := NewTensor(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestNewTensorErrors(t *testing.T) {
	for _, c := range []struct {
		data  []float32
		shape []int
	}{
		{[]float32{1, 2, 3}, []int{2, 2}},
		{nil, []int{2, -1}},
		{nil, []int{1 << 30, 1 << 30, 1 << 30}},
	} {
		if _, err := NewTensor(c.data, c.shape...); err == nil {
			t.Errorf("NewTensor(%d values, %v) accepted", len(c.data), c.shape)
		}
	}
	s := mustTensor[float32](t, []float32{4}) // a scalar
	if s.Numel() != 1 || s.Item() != 4 || len(s.Shape) != 0 {
		t.Errorf("scalar: %v %v", s.Shape, s.Item())
	}
	if _, err := NewParam[float32]("w", []float32{1, 2}, 3); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("NewParam error should name the parameter: %v", err)
	}
}

// TestStickyError: after a failed op every later op is skipped and returns nil, Err and
// Backward report the first error, and Reset clears it.
func TestStickyError(t *testing.T) {
	tp := &Tape[float32]{}
	w, _ := NewParam[float32]("w", nil, 3, 4)
	x := mustTensor[float32](t, nil, 2, 5)
	bad := MatMul(tp, x, w, false, false)
	if bad != nil {
		t.Fatal("MatMul of [2 5]·[3 4] returned a tensor")
	}
	first := tp.Err()
	if first == nil || !strings.Contains(first.Error(), "MatMul") || !strings.Contains(first.Error(), `"w"[3 4]`) {
		t.Fatalf("error should name the op and the tensors: %v", first)
	}
	good := mustTensor[float32](t, nil, 2, 3)
	if y := MatMul(tp, good, w, false, false); y != nil {
		t.Fatal("an op after a failure ran")
	}
	if Sum(tp, nil) != nil || tp.Err() != first {
		t.Fatal("the first error must stick")
	}
	if err := tp.Backward(bad); err != first {
		t.Fatalf("Backward returned %v, want the recorded error", err)
	}
	tp.Reset()
	if tp.Err() != nil {
		t.Fatal("Reset kept the error")
	}
	if y := MatMul(tp, good, w, false, false); y == nil || tp.Err() != nil {
		t.Fatalf("after Reset: %v", tp.Err())
	}
}

func TestBackwardMisuse(t *testing.T) {
	w, _ := NewParam[float64]("w", []float64{1, 2, 3}, 3)
	tp := &Tape[float64]{}
	y := Scale(tp, w, 2)
	if err := tp.Backward(y); err == nil {
		t.Error("Backward of a 3-element tensor accepted")
	}
	if err := tp.Backward(nil); err == nil {
		t.Error("Backward(nil) accepted")
	}
	other := &Tape[float64]{}
	if err := other.Backward(Sum(tp, y)); err == nil {
		t.Error("Backward of another tape's loss accepted")
	}
	c := mustTensor[float64](t, []float64{1, 2}, 2)
	if err := tp.Backward(Sum(tp, c)); err == nil {
		t.Error("Backward of a loss without parameters accepted")
	}
	ng := &Tape[float64]{NoGrad: true}
	loss := Sum(ng, Scale(ng, w, 2))
	if ng.Len() != 0 || loss.RequiresGrad {
		t.Errorf("NoGrad tape recorded %d ops", ng.Len())
	}
	if err := ng.Backward(loss); err == nil {
		t.Error("Backward on a NoGrad tape accepted")
	}
	if loss.Item() != 12 {
		t.Errorf("NoGrad forward = %v, want 12", loss.Item())
	}
}

// TestGradientsAccumulate: parameter gradients add up over Backward calls (gradient
// accumulation over micro-batches) until ZeroGrad.
func TestGradientsAccumulate(t *testing.T) {
	var ps Params[float64]
	w, _ := NewParam("w", []float64{1, -2}, 2)
	if err := ps.Add(w); err != nil {
		t.Fatal(err)
	}
	tp := &Tape[float64]{}
	for i := 0; i < 3; i++ {
		tp.Reset()
		loss := Sum(tp, Mul(tp, w, w)) // d/dw = 2w
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(w.Grad, []float64{6, -12}) {
		t.Fatalf("grad after 3 steps = %v, want [6 -12]", w.Grad)
	}
	if n := ps.GradNorm(); math.Abs(n-math.Sqrt(36+144)) > 1e-12 {
		t.Errorf("GradNorm = %v", n)
	}
	if n := ps.ClipGradNorm(1); math.Abs(n-math.Sqrt(180)) > 1e-12 || math.Abs(ps.GradNorm()-1) > 1e-6 {
		t.Errorf("ClipGradNorm returned %v, norm after %v", n, ps.GradNorm())
	}
	ps.ZeroGrad()
	if !slices.Equal(w.Grad, []float64{0, 0}) {
		t.Fatalf("ZeroGrad left %v", w.Grad)
	}
}

// TestResetRecyclesBuffers: a second identical step reuses the first step's buffers, and
// tensors of the first step are cleared.
func TestResetRecyclesBuffers(t *testing.T) {
	w, _ := NewParam[float32]("w", []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	x := mustTensor[float32](t, []float32{1, 0, 0, 1}, 2, 2)
	tp := &Tape[float32]{}
	step := func() *Tensor[float32] {
		y := MatMul(tp, x, w, false, false)
		if err := tp.Backward(Sum(tp, SiLU(tp, y))); err != nil {
			t.Fatal(err)
		}
		return y
	}
	// buffers returns every buffer the tape owns, live or pooled.
	buffers := func() map[*float32]bool {
		m := map[*float32]bool{}
		for _, b := range tp.live {
			if len(b) > 0 {
				m[&b[0]] = true
			}
		}
		for _, l := range tp.pool {
			for _, b := range l {
				if len(b) > 0 {
					m[&b[0]] = true
				}
			}
		}
		return m
	}
	y1 := step()
	first := buffers()
	if y1.Grad != nil {
		t.Error("intermediate gradient not released after Backward")
	}
	tp.Reset()
	if y1.Data != nil {
		t.Error("Reset did not clear a tensor it created")
	}
	step()
	second := buffers()
	for p := range second {
		if !first[p] {
			t.Fatal("the second step allocated a buffer instead of reusing the first step's")
		}
	}
	if len(second) != len(first) || len(first) == 0 {
		t.Errorf("first step owned %d buffers, second %d", len(first), len(second))
	}
	if w.Grad == nil || x.Grad != nil {
		t.Errorf("leaf gradients: w %v, x %v (x does not require one)", w.Grad, x.Grad)
	}
}

func TestParamsErrors(t *testing.T) {
	var ps Params[float32]
	a, _ := NewParam[float32]("a", nil, 2)
	if err := ps.Add(a); err != nil {
		t.Fatal(err)
	}
	dup, _ := NewParam[float32]("a", nil, 3)
	anon := mustTensor[float32](t, nil, 2)
	for _, p := range []*Tensor[float32]{dup, anon, nil} {
		if err := ps.Add(p); err == nil {
			t.Errorf("Add(%v) accepted", p)
		}
	}
	b, _ := NewParam[float32]("b", nil, 4, 5)
	if err := ps.Add(b); err != nil {
		t.Fatal(err)
	}
	if ps.Len() != 2 || ps.NumElements() != 22 || ps.Get("b") != b || ps.Get("c") != nil || ps.List()[0] != a {
		t.Errorf("Params bookkeeping wrong: len %d, elements %d", ps.Len(), ps.NumElements())
	}
}

// TestLlamaDeterministicAcrossThreads runs a model big enough for every kernel to split its
// work (several attention blocks, GEMM tiles) with 1, 2 and 5 threads: outputs and gradients
// must be bit-identical.
func TestLlamaDeterministicAcrossThreads(t *testing.T) {
	cfg := llamaConfig{vocab: 300, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 96, eps: 1e-5, theta: 10000, style: RoPENeoX}
	const batch, seq = 3, 70
	ids := make([]int32, batch*seq)
	targets := make([]int32, batch*seq)
	for i := range ids {
		ids[i] = int32(i * 37 % cfg.vocab)
		targets[i] = int32(i * 11 % cfg.vocab)
	}
	teacher := randTensor[float32](newRand(9), false, 2, batch, seq, cfg.vocab)
	var ref [][]float32
	var refLoss float64
	for _, threads := range []int{1, 2, 5} {
		m := randomLlama[float32](cfg, 1)
		tp := &Tape[float32]{Threads: threads}
		loss := kdLoss(tp, m.forward(tp, ids, batch, seq), teacher, targets, -100, 0.5, 2, false)
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			refLoss = loss.Item()
			for _, p := range m.params.List() {
				ref = append(ref, p.Grad)
			}
			continue
		}
		if loss.Item() != refLoss {
			t.Errorf("%d threads: loss %v, 1 thread %v", threads, loss.Item(), refLoss)
		}
		for i, p := range m.params.List() {
			if !slices.Equal(p.Grad, ref[i]) {
				t.Errorf("%d threads: gradient of %s differs from 1 thread", threads, p.Name)
			}
		}
	}
}
