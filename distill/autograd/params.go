package autograd

import (
	"fmt"
	"math"
)

// Params is an ordered set of named parameters: what an optimizer iterates over. The zero
// value is empty and ready to use.
type Params[T Float] struct {
	list   []*Tensor[T]
	byName map[string]*Tensor[T]
}

// Add appends a parameter. Its Name must be non-empty and unique in the set; Add sets
// RequiresGrad.
func (p *Params[T]) Add(t *Tensor[T]) error {
	if t == nil {
		return fmt.Errorf("autograd: Params.Add: nil tensor")
	}
	if t.Name == "" {
		return fmt.Errorf("autograd: Params.Add: parameter %v has no name", t)
	}
	if _, dup := p.byName[t.Name]; dup {
		return fmt.Errorf("autograd: Params.Add: duplicate parameter %q", t.Name)
	}
	if n, err := numelOf(t.Shape); err != nil || n != len(t.Data) {
		return fmt.Errorf("autograd: Params.Add: parameter %q: shape %v does not match %d elements", t.Name, t.Shape, len(t.Data))
	}
	if p.byName == nil {
		p.byName = make(map[string]*Tensor[T])
	}
	t.RequiresGrad = true
	p.list = append(p.list, t)
	p.byName[t.Name] = t
	return nil
}

// List returns the parameters in the order they were added. The slice is shared; do not
// modify it.
func (p *Params[T]) List() []*Tensor[T] { return p.list }

// Get returns the parameter with the given name, or nil.
func (p *Params[T]) Get(name string) *Tensor[T] { return p.byName[name] }

// Len returns the number of parameters.
func (p *Params[T]) Len() int { return len(p.list) }

// NumElements returns the total number of scalar parameters.
func (p *Params[T]) NumElements() int {
	n := 0
	for _, t := range p.list {
		n += len(t.Data)
	}
	return n
}

// ZeroGrad sets every parameter's gradient to zero (allocated gradients are kept).
func (p *Params[T]) ZeroGrad() {
	for _, t := range p.list {
		clear(t.Grad)
	}
}

// GradNorm returns the L2 norm of all gradients together, accumulated in float64 in parameter
// order (parameters without a gradient count as 0).
func (p *Params[T]) GradNorm() float64 {
	s := 0.0
	for _, t := range p.list {
		for _, g := range t.Grad {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}

// ClipGradNorm scales every gradient by maxNorm/norm when the global norm exceeds maxNorm, and
// returns the norm before clipping (as torch.nn.utils.clip_grad_norm_).
func (p *Params[T]) ClipGradNorm(maxNorm float64) float64 {
	n := p.GradNorm()
	if n > maxNorm && n > 0 {
		c := T(maxNorm / (n + 1e-6))
		for _, t := range p.list {
			for i := range t.Grad {
				t.Grad[i] *= c
			}
		}
	}
	return n
}
