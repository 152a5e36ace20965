package autograd

import "github.com/mcompress/mcompress/internal/parallel"

// SiLU returns x·σ(x) elementwise (also called swish), σ the logistic sigmoid. When
// recording, it keeps σ(x) so the backward pass needs no exponentials.
func SiLU[T Float](tp *Tape[T], x *Tensor[T]) *Tensor[T] {
	shape, ok := tp.validate(opSiLU, nil, x)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	op := &siluOp[T]{x: x}
	if !tp.NoGrad {
		op.sig = tp.buf(len(out.Data), false)
	}
	parallel.Range(tp.threads(), len(x.Data), elemChunk, func(_, lo, hi int) {
		sig := out.Data[lo:hi]
		if op.sig != nil {
			sig = op.sig[lo:hi]
		}
		sigmoidRow(sig, x.Data[lo:hi])
		for i, v := range x.Data[lo:hi] {
			out.Data[lo+i] = v * sig[i]
		}
	})
	tp.record(opSiLU, op, out, x)
	return out
}

// siluOp is a recorded SiLU with σ(x).
type siluOp[T Float] struct {
	x   *Tensor[T]
	sig []T
}

// backward: dx = dy·σ(x)·(1 + x·(1 − σ(x))).
func (op *siluOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	dx := tp.grad(op.x)
	parallel.Range(tp.threads(), len(dx), elemChunk, func(_, lo, hi int) {
		for i, v := range op.x.Data[lo:hi] {
			x, s := float64(v), float64(op.sig[lo+i])
			dx[lo+i] += T(float64(out.Grad[lo+i]) * s * (1 + x*(1-s)))
		}
	})
}
