package runtime

import "math"

// rmsNorm writes x / sqrt(mean(x^2) + eps) * w to dst (dst may be x).
func rmsNorm(dst, x, w []float32, eps float64) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+eps))
	w = w[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v * scale * w[i]
	}
}

// addBias adds b to each of the rows of x (rows of len(b) values).
func addBias(x, b []float32) {
	for off := 0; off < len(x); off += len(b) {
		r := x[off : off+len(b)]
		for i, v := range b {
			r[i] += v
		}
	}
}

// rope holds what rotary embeddings need: the frequencies of every pair, and the
// NeoX/interleaved ordering.
type rope struct {
	RoPEFrequencies
	dims int  // rotated dimensions per head
	neox bool // pairs (i, i+dims/2) rather than (2i, 2i+1)
}

// newRope prepares the rotary embedding of a model (see RoPEFrequencies).
func newRope(m *Model) *rope {
	return &rope{RoPEFrequencies: NewRoPEFrequencies(m.cfg, m.ropeFreqs), dims: m.cfg.RopeDim, neox: m.cfg.RopeNeoX}
}

// table fills cs with cos and sin of each pair's angle at position pos: cs[2i], cs[2i+1].
func (r *rope) table(cs []float32, pos int) {
	p := float64(pos)
	for i := range r.Inv {
		s, c := math.Sincos(r.angle(i, p))
		cs[2*i], cs[2*i+1] = float32(c*r.MScale), float32(s*r.MScale)
	}
}

// apply rotates each head (of headDim values) of x by the angles in cs.
func (r *rope) apply(x []float32, headDim int, cs []float32) {
	half := r.dims / 2
	for off := 0; off < len(x); off += headDim {
		h := x[off : off+headDim]
		for i := range half {
			c, s := cs[2*i], cs[2*i+1]
			a, b := 2*i, 2*i+1
			if r.neox {
				a, b = i, i+half
			}
			x0, x1 := h[a], h[b]
			h[a] = x0*c - x1*s
			h[b] = x0*s + x1*c
		}
	}
}
