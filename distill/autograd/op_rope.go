package autograd

import (
	"math"
	"slices"

	"github.com/mcompress/mcompress/internal/parallel"
)

// RoPEStyle says which elements of a head RoPE rotates together.
type RoPEStyle int

const (
	// RoPENormal rotates adjacent pairs (2i, 2i+1): GPT-J's layout and llama.cpp's
	// LLAMA_ROPE_TYPE_NORM (GGUF llama files, whose Q/K rows were permuted at conversion).
	RoPENormal RoPEStyle = iota
	// RoPENeoX rotates pairs (i, i + HeadDim/2): GPT-NeoX's layout, the rotate_half of Hugging
	// Face Llama, Mistral, Qwen2 and Qwen3 checkpoints.
	RoPENeoX
)

// RoPEConfig describes a rotary position embedding.
type RoPEConfig struct {
	// HeadDim is the size of one head (even). The last dimension of x is heads×HeadDim.
	HeadDim int
	// Theta is the base: pair i turns by pos·Theta^(−2i/HeadDim) (10000 for Llama 2).
	Theta float64
	// Style is the pairing; the zero value is RoPENormal.
	Style RoPEStyle
	// Freqs, when not nil, gives the HeadDim/2 inverse frequencies directly (pair i turns by
	// pos·Freqs[i]) and Theta is ignored: for scaled variants (Llama 3, YaRN) computed by the
	// caller.
	Freqs []float64
}

// invFreqs returns the inverse frequency of each pair.
func (c RoPEConfig) invFreqs() []float64 {
	if c.Freqs != nil {
		return slices.Clone(c.Freqs)
	}
	f := make([]float64, c.HeadDim/2)
	for i := range f {
		f[i] = math.Pow(c.Theta, -2*float64(i)/float64(c.HeadDim))
	}
	return f
}

// ropeAttr holds RoPE's configuration and positions.
type ropeAttr struct {
	cfg RoPEConfig
	pos []int32
}

// RoPE rotates the heads of x (shape [..., heads×HeadDim]) by their positions: row r (a row is
// one element of the leading dimensions, a token) is at position pos[r] ≥ 0. Angles, cosines
// and sines are computed in float64.
func RoPE[T Float](tp *Tape[T], x *Tensor[T], pos []int32, cfg RoPEConfig) *Tensor[T] {
	shape, ok := tp.validate(opRoPE, ropeAttr{cfg, pos}, x)
	if !ok {
		return nil
	}
	rows, c := rowsOf(shape)
	op := &ropeOp[T]{x: x, rows: rows, c: c, half: cfg.HeadDim / 2, style: cfg.Style}
	op.table(pos, cfg.invFreqs())
	out := tp.newTensor(shape, false)
	op.rotate(tp, x.Data, out.Data, false)
	tp.record(opRoPE, op, out, x)
	return out
}

// ropeOp is a recorded RoPE with its cosine/sine table.
type ropeOp[T Float] struct {
	x             *Tensor[T]
	rows, c, half int
	style         RoPEStyle
	cos, sin      []T   // [distinct positions][half]
	slot          []int // row -> index into the table
}

// table fills cos/sin for the positions that occur. When positions span a range no wider than
// the number of rows, the table covers [min, max]; otherwise it has one entry per row. Either
// way it is no larger than rows×half.
func (op *ropeOp[T]) table(pos []int32, inv []float64) {
	lo, hi := int32(math.MaxInt32), int32(0)
	for _, p := range pos {
		lo, hi = min(lo, p), max(hi, p)
	}
	op.slot = make([]int, len(pos))
	var ps []int32
	if len(pos) > 0 && int(hi-lo)+1 <= len(pos) {
		for p := lo; p <= hi; p++ {
			ps = append(ps, p)
		}
		for r, p := range pos {
			op.slot[r] = int(p - lo)
		}
	} else {
		ps = pos
		for r := range pos {
			op.slot[r] = r
		}
	}
	op.cos = make([]T, len(ps)*op.half)
	op.sin = make([]T, len(ps)*op.half)
	for i, p := range ps {
		for j, f := range inv {
			s, c := math.Sincos(float64(p) * f)
			op.cos[i*op.half+j], op.sin[i*op.half+j] = T(c), T(s)
		}
	}
}

// rotate writes the rotation of src into dst (inverse: rotate by −angle, the transpose,
// accumulating into dst for the backward pass).
func (op *ropeOp[T]) rotate(tp *Tape[T], src, dst []T, inverse bool) {
	c, half := op.c, op.half
	d := 2 * half
	parallel.Range(tp.threads(), op.rows, rowChunk(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			cs := op.cos[op.slot[r]*half : op.slot[r]*half+half]
			sn := op.sin[op.slot[r]*half : op.slot[r]*half+half]
			for h := r * c; h < (r+1)*c; h += d {
				for j := 0; j < half; j++ {
					i0, i1 := h+2*j, h+2*j+1
					if op.style == RoPENeoX {
						i0, i1 = h+j, h+j+half
					}
					x0, x1 := src[i0], src[i1]
					co, si := cs[j], sn[j]
					if inverse {
						dst[i0] += x0*co + x1*si
						dst[i1] += x1*co - x0*si
					} else {
						dst[i0] = x0*co - x1*si
						dst[i1] = x0*si + x1*co
					}
				}
			}
		}
	})
}

func (op *ropeOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	op.rotate(tp, out.Grad, tp.grad(op.x), true)
}
