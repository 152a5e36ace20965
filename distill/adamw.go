package distill

import (
	"fmt"
	"math"
	"strings"

	"github.com/mcompress/mcompress/internal/parallel"
)

// AdamWOptions are the optimizer's hyperparameters. The zero value of each field takes the
// default in its comment.
type AdamWOptions struct {
	LR          float64 // peak learning rate (1e-3)
	Beta1       float64 // first-moment decay (0.9)
	Beta2       float64 // second-moment decay (0.95)
	Eps         float64 // denominator term (1e-8)
	WeightDecay float64 // decoupled weight decay of matrices; norms and biases get none (0.1); use NoWeightDecay for 0
}

// NoWeightDecay, as AdamWOptions.WeightDecay, turns weight decay off (0 means the default).
const NoWeightDecay = -1

func (o AdamWOptions) withDefaults() AdamWOptions {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.LR, 1e-3)
	def(&o.Beta1, 0.9)
	def(&o.Beta2, 0.95)
	def(&o.Eps, 1e-8)
	def(&o.WeightDecay, 0.1)
	if o.WeightDecay == NoWeightDecay {
		o.WeightDecay = 0
	}
	return o
}

// Validate reports a hyperparameter out of range.
func (o AdamWOptions) Validate() error {
	o = o.withDefaults()
	ok := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !ok(o.LR) || o.LR <= 0:
		return fmt.Errorf("learning rate %g must be positive", o.LR)
	case !ok(o.Beta1) || o.Beta1 < 0 || o.Beta1 >= 1, !ok(o.Beta2) || o.Beta2 < 0 || o.Beta2 >= 1:
		return fmt.Errorf("betas %g, %g must be in [0, 1)", o.Beta1, o.Beta2)
	case !ok(o.Eps) || o.Eps <= 0:
		return fmt.Errorf("eps %g must be positive", o.Eps)
	case !ok(o.WeightDecay) || o.WeightDecay < 0:
		return fmt.Errorf("weight decay %g must not be negative", o.WeightDecay)
	}
	return nil
}

// AdamW is the Adam optimizer with decoupled weight decay (Loshchilov & Hutter), computed in
// float32 exactly as torch.optim.AdamW's single-tensor implementation:
//
//	p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p − lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε)
//
// Weight decay applies to matrices only; norm weights and biases (1-D parameters) get none.
type AdamW struct {
	Opts   AdamWOptions
	params []*Tensor
	m, v   [][]float32
	// Steps is the number of steps taken (t in the bias corrections).
	Steps   int64
	Threads int
}

// NewAdamW returns an optimizer over params with zero state.
func NewAdamW(params []*Tensor, o AdamWOptions) *AdamW {
	a := &AdamW{Opts: o.withDefaults(), params: params}
	for _, p := range params {
		a.m = append(a.m, make([]float32, len(p.Data)))
		a.v = append(a.v, make([]float32, len(p.Data)))
	}
	return a
}

// Step applies one update with learning rate lr to every parameter that has a gradient.
func (a *AdamW) Step(lr float64) {
	a.Steps++
	o := a.Opts
	t := float64(a.Steps)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2 := 1 - math.Pow(o.Beta2, t)
	stepSize := float32(-lr / bc1)
	bc2Sqrt := float32(math.Sqrt(bc2))
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	c1, c2 := float32(1-o.Beta1), float32(1-o.Beta2)
	eps := float32(o.Eps)
	for i, p := range a.params {
		if p.Grad == nil {
			continue
		}
		decay := float32(1)
		if decays(p) && o.WeightDecay != 0 {
			decay = float32(1 - lr*o.WeightDecay)
		}
		m, v, g, d := a.m[i], a.v[i], p.Grad, p.Data
		parallel.Range(a.Threads, len(d), 1<<15, func(_, lo, hi int) {
			for j := lo; j < hi; j++ {
				d[j] *= decay
				gj := g[j]
				m[j] = m[j]*b1 + gj*c1
				v[j] = v[j]*b2 + gj*gj*c2
				den := float32(math.Sqrt(float64(v[j])))/bc2Sqrt + eps
				d[j] += stepSize * (m[j] / den)
			}
		})
	}
}

// Schedule shapes the learning rate over the run after the warmup.
type Schedule int

const (
	// Cosine decays from the peak to MinLR along half a cosine (the default).
	Cosine Schedule = iota
	// Linear decays from the peak to MinLR in a straight line.
	Linear
	// Constant keeps the peak.
	Constant
)

// String returns the schedule's flag name.
func (s Schedule) String() string {
	switch s {
	case Linear:
		return "linear"
	case Constant:
		return "constant"
	}
	return "cosine"
}

// ParseSchedule parses "cosine", "linear" and "constant".
func ParseSchedule(s string) (Schedule, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "cosine", "cos":
		return Cosine, nil
	case "linear":
		return Linear, nil
	case "constant", "const", "none":
		return Constant, nil
	}
	return 0, fmt.Errorf("unknown learning-rate schedule %q (want cosine, linear or constant)", s)
}

// LRAt returns the learning rate of step (0-based) of a run of total steps: a linear warmup
// from peak/warmup to peak over the first warmup steps, then the schedule down to minLR at the
// last step.
func LRAt(s Schedule, step, total, warmup int, peak, minLR float64) float64 {
	if step < warmup {
		return peak * float64(step+1) / float64(warmup)
	}
	if s == Constant || total-warmup <= 1 {
		return peak
	}
	p := float64(step-warmup) / float64(total-warmup-1)
	p = min(max(p, 0), 1)
	if s == Linear {
		return peak - (peak-minLR)*p
	}
	return minLR + 0.5*(peak-minLR)*(1+math.Cos(math.Pi*p))
}
