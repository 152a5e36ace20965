package autograd

import "github.com/mcompress/mcompress/internal/parallel"

// SwiGLU returns silu(gate) ∘ up, the gated activation of Llama-family MLPs
// (down(silu(gate(x)) ∘ up(x))), fused so the silu(gate) intermediate is never a tensor. When
// recording, it keeps σ(gate) so the backward pass needs no exponentials.
func SwiGLU[T Float](tp *Tape[T], gate, up *Tensor[T]) *Tensor[T] {
	shape, ok := tp.validate(opSwiGLU, nil, gate, up)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	op := &swigluOp[T]{gate: gate, up: up}
	if !tp.NoGrad {
		op.sig = tp.buf(len(out.Data), false)
	}
	parallel.Range(tp.threads(), len(out.Data), elemChunk, func(_, lo, hi int) {
		sig := out.Data[lo:hi] // σ(gate) goes through the output buffer
		if op.sig != nil {
			sig = op.sig[lo:hi]
		}
		sigmoidRow(sig, gate.Data[lo:hi])
		for i, g := range gate.Data[lo:hi] {
			out.Data[lo+i] = g * sig[i] * up.Data[lo+i]
		}
	})
	tp.record(opSwiGLU, op, out, gate, up)
	return out
}

// swigluOp is a recorded SwiGLU with σ(gate).
type swigluOp[T Float] struct {
	gate, up *Tensor[T]
	sig      []T
}

// backward: d gate = dy ∘ up ∘ silu'(gate), d up = dy ∘ silu(gate), where
// silu'(x) = σ(x)·(1 + x·(1 − σ(x))).
func (op *swigluOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	dg, du := tp.grad(op.gate), tp.grad(op.up)
	parallel.Range(tp.threads(), len(out.Grad), elemChunk, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			x, s := float64(op.gate.Data[i]), float64(op.sig[i])
			g := float64(out.Grad[i])
			if dg != nil {
				dg[i] += T(g * float64(op.up.Data[i]) * s * (1 + x*(1-s)))
			}
			if du != nil {
				du[i] += T(g * x * s)
			}
		}
	})
}
