package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
)

// This file holds the gradient checker every op test uses: the op runs in float64, its
// analytic gradient (Backward seeded with a random cotangent R) is compared with central finite
// differences of ⟨op(x), R⟩ computed by gonum's diff/fd; then the same op runs in float32 and
// must agree with the float64 values, and must give bit-identical results with 1 and 3 threads.

// build is one test program: it applies the op under test to the inputs.
type build[T Float] func(tp *Tape[T], in []*Tensor[T]) *Tensor[T]

// gradCase is one row of an op's gradient-check table.
type gradCase struct {
	name  string
	kind  opKind   // the op under test
	in    []inSpec // the inputs
	f64   build[float64]
	f32   build[float32]
	tol   float64 // FD tolerance: |analytic − numeric| ≤ tol·(1 + |numeric|); 0 means 1e-6
	tol32 float64 // float32 vs float64, relative to the largest float64 value; 0 means 2e-5
}

// inSpec describes an input: its shape, whether its gradient is checked, and the scale of
// its uniform random values.
type inSpec struct {
	shape []int
	grad  bool
	scale float64 // values are uniform in [−scale, scale]; 0 means 1
	shift float64 // added to every value
}

// arg returns an input spec whose gradient is checked.
func arg(shape ...int) inSpec { return inSpec{shape: shape, grad: true} }

// constArg returns an input spec without gradient.
func constArg(shape ...int) inSpec { return inSpec{shape: shape} }

// newCase makes a gradient case from a generic builder instantiated for float64 and float32
// with the case's arguments a.
func newCase[A any](kind opKind, name string, a A,
	f64 func(A, *Tape[float64], []*Tensor[float64]) *Tensor[float64],
	f32 func(A, *Tape[float32], []*Tensor[float32]) *Tensor[float32], specs ...inSpec) gradCase {
	return gradCase{name: name, kind: kind, in: specs,
		f64: func(tp *Tape[float64], in []*Tensor[float64]) *Tensor[float64] { return f64(a, tp, in) },
		f32: func(tp *Tape[float32], in []*Tensor[float32]) *Tensor[float32] { return f32(a, tp, in) }}
}

// gradCases holds every op test's table, by op, for the registry coverage test.
var gradCases = map[opKind][]gradCase{}

// addGradCases registers an op's cases (called from package-level vars of op tests).
func addGradCases(cases ...gradCase) bool {
	for _, c := range cases {
		gradCases[c.kind] = append(gradCases[c.kind], c)
	}
	return true
}

// makeInputs returns deterministic random inputs for the specs.
func makeInputs(specs []inSpec, seed uint64) []*Tensor[float64] {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]*Tensor[float64], len(specs))
	for i, s := range specs {
		t, err := NewTensor[float64](nil, s.shape...)
		if err != nil {
			panic(err)
		}
		sc := s.scale
		if sc == 0 {
			sc = 1
		}
		for j := range t.Data {
			t.Data[j] = (2*rng.Float64()-1)*sc + s.shift
		}
		t.RequiresGrad = s.grad
		t.Name = fmt.Sprintf("in%d", i)
		out[i] = t
	}
	return out
}

// cotangent returns a deterministic random seed gradient of n elements.
func cotangent(n int) []float64 {
	rng := rand.New(rand.NewPCG(7, 11))
	r := make([]float64, n)
	for i := range r {
		r[i] = 2*rng.Float64() - 1
	}
	return r
}

// checkGradients compares the analytic gradient of ⟨f(in), R⟩ with central differences for
// every input with RequiresGrad, and returns an error describing the worst mismatch.
func checkGradients(f build[float64], in []*Tensor[float64], tol float64) error {
	if tol == 0 {
		tol = 1e-6
	}
	tp := &Tape[float64]{}
	out := f(tp, in)
	if err := tp.Err(); err != nil {
		return err
	}
	r := cotangent(len(out.Data))
	for _, t := range in {
		t.Grad = nil
	}
	if err := tp.backwardFrom(out, r); err != nil {
		return err
	}
	for _, t := range in {
		if !t.RequiresGrad {
			if t.Grad != nil {
				return fmt.Errorf("%s: received a gradient but does not require one", t.Name)
			}
			continue
		}
		if t.Grad == nil {
			t.Grad = make([]float64, len(t.Data)) // nothing flowed: the analytic gradient is 0
		}
		analytic := slices.Clone(t.Grad)
		orig := slices.Clone(t.Data)
		numeric := fd.Gradient(nil, func(x []float64) float64 {
			copy(t.Data, x)
			ntp := &Tape[float64]{NoGrad: true}
			o := f(ntp, in)
			if ntp.Err() != nil {
				return math.NaN()
			}
			s := 0.0
			for i, v := range o.Data {
				s += v * r[i]
			}
			return s
		}, orig, &fd.Settings{Formula: fd.Central, Step: 1e-6})
		copy(t.Data, orig)
		worst, at := 0.0, -1
		for i := range analytic {
			e := math.Abs(analytic[i]-numeric[i]) / (1 + math.Abs(numeric[i]))
			if !(e <= worst) || at < 0 {
				worst, at = e, i
			}
		}
		if !(worst <= tol) {
			return fmt.Errorf("%s%v: element %d: analytic %.10g, finite differences %.10g (error %.3g > %.3g)",
				t.Name, t.Shape, at, analytic[at], numeric[at], worst, tol)
		}
	}
	return nil
}

// to32 converts float64 inputs to float32 ones.
func to32(in []*Tensor[float64]) []*Tensor[float32] {
	out := make([]*Tensor[float32], len(in))
	for i, t := range in {
		d := make([]float32, len(t.Data))
		for j, v := range t.Data {
			d[j] = float32(v)
		}
		out[i] = &Tensor[float32]{Shape: t.Shape, Data: d, RequiresGrad: t.RequiresGrad, Name: t.Name}
	}
	return out
}

// run32 runs the float32 program with the given thread count and returns the output and the
// gradients of every input (nil where none).
func run32(c gradCase, in64 []*Tensor[float64], threads int) ([]float32, [][]float32, error) {
	in := to32(in64)
	tp := &Tape[float32]{Threads: threads}
	out := c.f32(tp, in)
	if err := tp.Err(); err != nil {
		return nil, nil, err
	}
	r := cotangent(len(out.Data))
	r32 := make([]float32, len(r))
	for i, v := range r {
		r32[i] = float32(v)
	}
	if err := tp.backwardFrom(out, r32); err != nil {
		return nil, nil, err
	}
	grads := make([][]float32, len(in))
	for i, t := range in {
		grads[i] = t.Grad
	}
	return slices.Clone(out.Data), grads, nil
}

// relMax returns max|a − b| / max|b| (the golden-fixture metric).
func relMax[A, B Float](a []A, b []B) float64 {
	num, den := 0.0, 0.0
	for i := range b {
		num = max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = max(den, math.Abs(float64(b[i])))
	}
	if den == 0 {
		return num
	}
	return num / den
}

// runGradCases runs every registered case of an op.
func runGradCases(t *testing.T, kind opKind) {
	cases := gradCases[kind]
	if len(cases) == 0 {
		t.Fatalf("no gradient cases registered for %v", kind)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := makeInputs(c.in, uint64(i+1))
			if err := checkGradients(c.f64, in, c.tol); err != nil {
				t.Fatalf("float64 gradient check: %v", err)
			}
			// float32 against float64.
			tp := &Tape[float64]{}
			out64 := c.f64(tp, in)
			for _, x := range in {
				x.Grad = nil
			}
			if err := tp.backwardFrom(out64, cotangent(len(out64.Data))); err != nil {
				t.Fatal(err)
			}
			out32, g32, err := run32(c, in, 1)
			if err != nil {
				t.Fatal(err)
			}
			tol32 := c.tol32
			if tol32 == 0 {
				tol32 = 2e-5
			}
			if e := relMax(out32, out64.Data); e > tol32 {
				t.Errorf("float32 output differs from float64 by %.3g (max relative), want ≤ %.3g", e, tol32)
			}
			for j, x := range in {
				if x.RequiresGrad {
					if e := relMax(g32[j], x.Grad); e > tol32 {
						t.Errorf("float32 gradient of %s differs from float64 by %.3g, want ≤ %.3g", x.Name, e, tol32)
					}
				}
			}
			// Determinism across thread counts.
			o3, g3, err := run32(c, in, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(o3, out32) {
				t.Errorf("output with 3 threads differs from 1 thread")
			}
			for j := range g3 {
				if !slices.Equal(g3[j], g32[j]) {
					t.Errorf("gradient of input %d with 3 threads differs from 1 thread", j)
				}
			}
		})
	}
}

// TestEveryOpHasGradientCases makes sure no registered op escapes the finite-difference check.
func TestEveryOpHasGradientCases(t *testing.T) {
	for k := opInvalid + 1; k < numOpKinds; k++ {
		if len(gradCases[k]) == 0 {
			t.Errorf("op %v has no gradient-check case", k)
		}
		if registry[k].check == nil || len(registry[k].inputs) != len(registry[k].grads) {
			t.Errorf("op %v: incomplete registry entry", k)
		}
	}
}

// badSquareOp is x² with a deliberately wrong gradient (x instead of 2x), to prove the checker
// can fail.
type badSquareOp struct {
	x     *Tensor[float64]
	wrong bool
}

func (op *badSquareOp) backward(tp *Tape[float64], out *Tensor[float64]) {
	dx := tp.grad(op.x)
	for i, v := range op.x.Data {
		k := 2.0
		if op.wrong {
			k = 1.0
		}
		dx[i] += k * v * out.Grad[i]
	}
}

func square(wrong bool) build[float64] {
	return func(tp *Tape[float64], in []*Tensor[float64]) *Tensor[float64] {
		x := in[0]
		out := tp.newTensor(slices.Clone(x.Shape), false)
		for i, v := range x.Data {
			out.Data[i] = v * v
		}
		tp.record(opSiLU, &badSquareOp{x: x, wrong: wrong}, out, x) // any one-input kind will do
		return out
	}
}

func TestGradientCheckerCatchesWrongGradient(t *testing.T) {
	in := makeInputs([]inSpec{arg(3, 4)}, 1)
	if err := checkGradients(square(false), in, 0); err != nil {
		t.Fatalf("correct gradient rejected: %v", err)
	}
	err := checkGradients(square(true), in, 0)
	if err == nil {
		t.Fatal("a wrong gradient (x instead of 2x) passed the finite-difference check")
	}
	t.Logf("wrong gradient caught as expected: %v", err)
}
