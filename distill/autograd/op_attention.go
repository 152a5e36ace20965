package autograd

import (
	"math"

	"github.com/mcompress/mcompress/internal/parallel"
)

// AttentionConfig describes causal grouped-query attention.
type AttentionConfig struct {
	// Heads is the number of query heads, KVHeads the number of key/value heads (a divisor of
	// Heads: query head h reads key/value head h / (Heads/KVHeads)), HeadDim the size of a head.
	Heads, KVHeads, HeadDim int
	// Scale multiplies the scores q·k; 0 means 1/sqrt(HeadDim).
	Scale float64
}

// attnBlock is the number of query rows processed together: the scratch space of a task is
// attnBlock × sequence length, linear in the sequence length.
const attnBlock = 64

// Attention returns causal grouped-query attention softmax(scale·q·kᵀ + mask)·v for every
// sequence and head, as one fused operation. q is [batch, seq, Heads×HeadDim] and k, v are
// [batch, seq, KVHeads×HeadDim] (the outputs of the projections, RoPE already applied to q and
// k); position t attends to positions 0..t of its own sequence. The result has q's shape, heads
// concatenated in the last dimension, ready for the output projection.
//
// Like flash attention it never stores the seq×seq probability matrix: the forward pass keeps
// one log-sum-exp per query row and the backward pass recomputes the probabilities block by
// block, so memory is linear in the sequence length. Both passes run in parallel over
// (sequence, head) pairs; the backward over (sequence, key/value head) so that each task owns
// the gradient rows it writes.
func Attention[T Float](tp *Tape[T], q, k, v *Tensor[T], cfg AttentionConfig) *Tensor[T] {
	shape, ok := tp.validate(opAttention, cfg, q, k, v)
	if !ok {
		return nil
	}
	if cfg.Scale == 0 {
		cfg.Scale = 1 / math.Sqrt(float64(cfg.HeadDim))
	}
	op := &attentionOp[T]{q: q, k: k, v: v, cfg: cfg, batch: shape[0], seq: shape[1]}
	out := tp.newTensor(shape, false)
	op.out = out
	op.forward(tp)
	tp.record(opAttention, op, out, q, k, v)
	return out
}

// attentionOp is a recorded Attention: it keeps its inputs, its output and the log-sum-exp of
// every query row.
type attentionOp[T Float] struct {
	q, k, v, out *Tensor[T]
	cfg          AttentionConfig
	batch, seq   int
	lse          []float64 // [batch][Heads][seq]
}

// layout returns the row strides of q (and out) and of k/v, and the number of query heads per
// key/value head.
func (op *attentionOp[T]) layout() (ldq, ldk, group int) {
	c := op.cfg
	return c.Heads * c.HeadDim, c.KVHeads * c.HeadDim, c.Heads / c.KVHeads
}

func (op *attentionOp[T]) forward(tp *Tape[T]) {
	c, seq, dh := op.cfg, op.seq, op.cfg.HeadDim
	ldq, ldk, group := op.layout()
	op.lse = make([]float64, op.batch*c.Heads*seq)
	threads := tp.threads()
	scratch := tp.buf(threads*attnBlock*seq, false)
	parallel.For(threads, op.batch*c.Heads, func(w, task int) {
		b, h := task/c.Heads, task%c.Heads
		g := h / group
		qb := op.q.Data[b*seq*ldq+h*dh:]
		kb := op.k.Data[b*seq*ldk+g*dh:]
		vb := op.v.Data[b*seq*ldk+g*dh:]
		ob := op.out.Data[b*seq*ldq+h*dh:]
		lse := op.lse[task*seq : (task+1)*seq]
		p := scratch[w*attnBlock*seq : (w+1)*attnBlock*seq]
		for i0 := 0; i0 < seq; i0 += attnBlock {
			i1 := min(i0+attnBlock, seq)
			br, e := i1-i0, i1 // rows i0..i1 see keys 0..i1
			gemm(1, false, true, br, e, dh, T(c.Scale), qb[i0*ldq:], ldq, kb, ldk, 0, p, e)
			for r := 0; r < br; r++ {
				row := p[r*e : (r+1)*e]
				t := i0 + r
				vis := row[:t+1]
				m := rowMax(vis)
				s := expShift(vis, vis, 1, m)
				inv := T(1 / s)
				for j := range vis {
					vis[j] *= inv
				}
				clear(row[t+1:])
				lse[t] = m + math.Log(s)
			}
			gemm(1, false, false, br, dh, e, 1, p, e, vb, ldk, 0, ob[i0*ldq:], ldq)
		}
	})
}

// backward recomputes P = exp(scale·q·kᵀ − lse) block by block and accumulates
//
//	dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = P∘(dP − rowsum(dO∘O))·scale,  dQ += dS·K,  dK += dSᵀ·Q.
func (op *attentionOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	c, seq, dh := op.cfg, op.seq, op.cfg.HeadDim
	ldq, ldk, group := op.layout()
	dq, dk, dv := tp.grad(op.q), tp.grad(op.k), tp.grad(op.v)
	threads := tp.threads()
	scratch := tp.buf(threads*2*attnBlock*seq, false)
	scale := T(c.Scale)
	parallel.For(threads, op.batch*c.KVHeads, func(w, task int) {
		b, g := task/c.KVHeads, task%c.KVHeads
		kb := op.k.Data[b*seq*ldk+g*dh:]
		vb := op.v.Data[b*seq*ldk+g*dh:]
		var dkb, dvb []T
		if dk != nil {
			dkb = dk[b*seq*ldk+g*dh:]
		}
		if dv != nil {
			dvb = dv[b*seq*ldk+g*dh:]
		}
		p := scratch[w*2*attnBlock*seq : (w*2+1)*attnBlock*seq]
		dp := scratch[(w*2+1)*attnBlock*seq : (w*2+2)*attnBlock*seq]
		var delta [attnBlock]float64
		for h := g * group; h < (g+1)*group; h++ {
			off := b*seq*ldq + h*dh
			qb, ob, gb := op.q.Data[off:], op.out.Data[off:], out.Grad[off:]
			lse := op.lse[(b*c.Heads+h)*seq : (b*c.Heads+h+1)*seq]
			for i0 := 0; i0 < seq; i0 += attnBlock {
				i1 := min(i0+attnBlock, seq)
				br, e := i1-i0, i1
				gemm(1, false, true, br, e, dh, scale, qb[i0*ldq:], ldq, kb, ldk, 0, p, e)
				for r := 0; r < br; r++ {
					t := i0 + r
					row := p[r*e : (r+1)*e]
					expShift(row[:t+1], row[:t+1], 1, lse[t])
					clear(row[t+1:])
					s := 0.0
					for d := 0; d < dh; d++ {
						s += float64(gb[t*ldq+d]) * float64(ob[t*ldq+d])
					}
					delta[r] = s
				}
				if dvb != nil {
					gemm(1, true, false, e, dh, br, 1, p, e, gb[i0*ldq:], ldq, 1, dvb, ldk)
				}
				if dq == nil && dkb == nil {
					continue
				}
				gemm(1, false, true, br, e, dh, 1, gb[i0*ldq:], ldq, vb, ldk, 0, dp, e)
				for r := 0; r < br; r++ {
					t := i0 + r
					prow, drow := p[r*e:r*e+t+1], dp[r*e:(r+1)*e]
					for j, pv := range prow {
						drow[j] = pv * (drow[j] - T(delta[r])) * scale
					}
					clear(drow[t+1:])
				}
				if dq != nil {
					gemm(1, false, false, br, dh, e, 1, dp, e, kb, ldk, 1, dq[off+i0*ldq:], ldq)
				}
				if dkb != nil {
					gemm(1, true, false, e, dh, br, 1, dp, e, qb[i0*ldq:], ldq, 1, dkb, ldk)
				}
			}
		}
	})
}
