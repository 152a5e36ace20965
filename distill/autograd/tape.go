package autograd

import (
	"errors"
	"fmt"
	"runtime"
)

// Tape records operations in the order they run (a Wengert list) so that Backward can
// propagate gradients through them in reverse. The zero value is a recording tape using
// GOMAXPROCS threads. A Tape is not safe for concurrent use. Kernels already use every core,
// so run one tape at a time: two tapes running concurrently on shared parameters would add
// into the same Grad slices.
//
// The tape owns the buffers of the tensors its operations create. Call Reset between training
// steps to recycle them: after Reset those tensors have nil Data.
type Tape[T Float] struct {
	// Threads is the number of goroutines kernels may use; 0 means runtime.GOMAXPROCS(0).
	// Results do not depend on it.
	Threads int
	// NoGrad turns recording off: operations compute their outputs and nothing is kept for a
	// backward pass (inference, validation, teacher forward passes).
	NoGrad bool

	err   error
	nodes []node[T]
	made  []*Tensor[T] // tensors created since Reset (their Data is cleared by Reset)
	live  [][]T        // pooled buffers handed out since Reset; nil entries were released early
	pool  map[int][][]T
}

// node is one recorded operation: the kind (for messages), the operation with whatever it saved
// for its backward pass, and its output.
type node[T Float] struct {
	kind opKind
	op   backwarder[T]
	out  *Tensor[T]
}

// backwarder is implemented by every operation type: given out.Grad (d loss / d out), it adds
// d loss / d input into the Grad of each input that requires a gradient (see Tape.grad).
type backwarder[T Float] interface {
	backward(tp *Tape[T], out *Tensor[T])
}

// Err returns the first error recorded by an operation on this tape since the last Reset.
func (tp *Tape[T]) Err() error { return tp.err }

// Len returns the number of operations recorded since the last Reset.
func (tp *Tape[T]) Len() int { return len(tp.nodes) }

// Reset forgets every recorded operation and the recorded error, and recycles the buffers of
// every tensor the tape created (their Data and Grad become nil). Leaf tensors (parameters and
// inputs you created) and their gradients are untouched.
func (tp *Tape[T]) Reset() {
	for _, t := range tp.made {
		t.Data, t.Grad, t.node, t.gradSlot, t.tape = nil, nil, 0, 0, nil
	}
	clear(tp.made)
	tp.made = tp.made[:0]
	for _, b := range tp.live {
		if b != nil {
			tp.putBuf(b)
		}
	}
	clear(tp.live)
	tp.live = tp.live[:0]
	clear(tp.nodes)
	tp.nodes = tp.nodes[:0]
	tp.err = nil
}

// Backward computes d loss / d x for every tensor x with RequiresGrad that loss depends on,
// adding it into x.Grad (allocated, zeroed, on first use). loss must have exactly one element
// and have been computed on this tape while it was recording. Gradients of intermediate
// tensors are released once propagated; parameter gradients accumulate across calls.
//
// It returns the tape's recorded error, if any, or an error describing a misuse.
func (tp *Tape[T]) Backward(loss *Tensor[T]) error {
	if tp.err != nil {
		return tp.err
	}
	switch {
	case loss == nil:
		return errors.New("autograd: Backward: loss is nil")
	case len(loss.Data) != 1:
		return fmt.Errorf("autograd: Backward: loss %v has %d elements, want 1 (reduce it with Sum or Mean)", loss, len(loss.Data))
	case !loss.RequiresGrad:
		return fmt.Errorf("autograd: Backward: loss %v depends on no tensor with RequiresGrad (was the tape in NoGrad mode?)", loss)
	case loss.tape != nil && loss.tape != tp:
		return fmt.Errorf("autograd: Backward: loss %v was computed on another tape", loss)
	}
	g := tp.grad(loss)
	g[0]++
	tp.propagate(loss.node - 1)
	return nil
}

// backwardFrom seeds out.Grad with seed and propagates (used by the gradient checker).
func (tp *Tape[T]) backwardFrom(out *Tensor[T], seed []T) error {
	if tp.err != nil {
		return tp.err
	}
	if !out.RequiresGrad {
		return fmt.Errorf("autograd: backward: %v does not require a gradient", out)
	}
	g := tp.grad(out)
	for i, v := range seed {
		g[i] += v
	}
	tp.propagate(out.node - 1)
	return nil
}

// propagate runs the backward functions of nodes last, last-1, ..., 0 whose output received a
// gradient, releasing each intermediate gradient once it has been propagated.
func (tp *Tape[T]) propagate(last int) {
	for i := last; i >= 0; i-- {
		n := &tp.nodes[i]
		if n.out.Grad == nil {
			continue
		}
		n.op.backward(tp, n.out)
		tp.releaseGrad(n.out)
	}
}

// threads returns the number of goroutines kernels may use.
func (tp *Tape[T]) threads() int {
	if tp.Threads > 0 {
		return tp.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// fail records err (the first one wins) and returns false.
func (tp *Tape[T]) fail(err error) bool {
	if tp.err == nil {
		tp.err = err
	}
	return false
}

// record appends a node for op unless the tape is in NoGrad mode or no differentiable input
// requires a gradient; then out requires a gradient too.
func (tp *Tape[T]) record(kind opKind, op backwarder[T], out *Tensor[T], in ...*Tensor[T]) {
	if tp.NoGrad {
		return
	}
	spec := &registry[kind]
	need := false
	for i, t := range in {
		if t != nil && t.RequiresGrad && spec.grads[i] {
			need = true
			break
		}
	}
	if !need {
		return
	}
	tp.nodes = append(tp.nodes, node[T]{kind: kind, op: op, out: out})
	out.RequiresGrad = true
	out.node = len(tp.nodes)
}

// newTensor returns a tensor of the given shape whose Data comes from the tape's pool. The data
// is zeroed only when zero is true; otherwise the caller must overwrite every element.
func (tp *Tape[T]) newTensor(shape []int, zero bool) *Tensor[T] {
	n := 1
	for _, d := range shape {
		n *= d
	}
	t := &Tensor[T]{Shape: shape, Data: tp.buf(n, zero), tape: tp}
	tp.made = append(tp.made, t)
	return t
}

// view returns a tensor sharing src's Data with another shape.
func (tp *Tape[T]) view(src *Tensor[T], shape []int) *Tensor[T] {
	t := &Tensor[T]{Shape: shape, Data: src.Data, tape: tp}
	tp.made = append(tp.made, t)
	return t
}

// buf returns a scratch buffer of n elements owned by the tape until Reset.
func (tp *Tape[T]) buf(n int, zero bool) []T {
	b := tp.getBuf(n, zero)
	tp.live = append(tp.live, b)
	return b
}

// grad returns t.Grad, allocating it zeroed on first use, or nil when t does not require a
// gradient (the caller then skips that input).
func (tp *Tape[T]) grad(t *Tensor[T]) []T {
	if t == nil || !t.RequiresGrad {
		return nil
	}
	if t.Grad != nil {
		return t.Grad
	}
	if t.tape == nil {
		// A leaf (parameter): its gradient outlives the tape.
		t.Grad = make([]T, len(t.Data))
		return t.Grad
	}
	t.Grad = tp.getBuf(len(t.Data), true)
	tp.live = append(tp.live, t.Grad)
	t.gradSlot = len(tp.live)
	return t.Grad
}

// releaseGrad returns the pooled gradient of an intermediate tensor to the pool.
func (tp *Tape[T]) releaseGrad(t *Tensor[T]) {
	if t.gradSlot == 0 {
		return
	}
	tp.live[t.gradSlot-1] = nil
	tp.putBuf(t.Grad)
	t.Grad, t.gradSlot = nil, 0
}

func (tp *Tape[T]) getBuf(n int, zero bool) []T {
	if l := tp.pool[n]; len(l) > 0 {
		b := l[len(l)-1]
		l[len(l)-1] = nil
		tp.pool[n] = l[:len(l)-1]
		if zero {
			clear(b)
		}
		return b
	}
	return make([]T, n)
}

func (tp *Tape[T]) putBuf(b []T) {
	if tp.pool == nil {
		tp.pool = make(map[int][][]T)
	}
	tp.pool[len(b)] = append(tp.pool[len(b)], b[:len(b):len(b)])
}
