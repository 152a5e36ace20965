package autograd

// SwiGLU returns silu(gate) ∘ up, the gated activation of Llama-family MLPs
// (down(silu(gate(x)) ∘ up(x))), fused so the silu(gate) intermediate is never stored.
func SwiGLU[T Float](tp *Tape[T], gate, up *Tensor[T]) *Tensor[T] {
	shape, ok := tp.validate(opSwiGLU, nil, gate, up)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	exp := expFunc[T]()
	parallelRange(tp.threads(), len(out.Data), elemChunk, func(_, lo, hi int) {
		for i, g := range gate.Data[lo:hi] {
			x := float64(g)
			out.Data[lo+i] = T(x*sigmoid(x, exp)) * up.Data[lo+i]
		}
	})
	tp.record(opSwiGLU, &swigluOp[T]{gate: gate, up: up}, out, gate, up)
	return out
}

// swigluOp is a recorded SwiGLU.
type swigluOp[T Float] struct{ gate, up *Tensor[T] }

// backward: d gate = dy ∘ up ∘ silu'(gate), d up = dy ∘ silu(gate).
func (op *swigluOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	dg, du := tp.grad(op.gate), tp.grad(op.up)
	exp := expFunc[T]()
	parallelRange(tp.threads(), len(out.Grad), elemChunk, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			d, s := siluGrad(float64(op.gate.Data[i]), exp)
			g := float64(out.Grad[i])
			if dg != nil {
				dg[i] += T(g * float64(op.up.Data[i]) * d)
			}
			if du != nil {
				du[i] += T(g * s)
			}
		}
	})
}
