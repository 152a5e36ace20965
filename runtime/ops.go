package runtime

import (
	"math"
	"sync"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/dtype"
)

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

// newRope prepares the rotary embedding of a model's global layers for a session of ctx
// positions (see RoPEFrequencies). LongRoPE takes the long factors when ctx exceeds the
// original context, the short ones otherwise, as llama.cpp does.
func newRope(m *Model, ctx int) *rope {
	factors := m.ropeFreqs
	if m.ropeLong != nil {
		factors = m.ropeShort
		if ctx > m.cfg.RopeScaling.OriginalContext {
			factors = m.ropeLong
		}
	}
	return &rope{RoPEFrequencies: NewRoPEFrequencies(m.cfg, factors), dims: m.cfg.RopeDim, neox: m.cfg.RopeNeoX}
}

// newLocalRope prepares the rotary embedding of the sliding-window layers when they have their
// own base (Gemma 3: RopeThetaSWA, without the global layers' scaling); nil when they share the
// global one.
func newLocalRope(m *Model) *rope {
	if m.cfg.RopeThetaSWA <= 0 {
		return nil
	}
	c := m.cfg
	c.RopeTheta, c.RopeScaling = c.RopeThetaSWA, convert.RopeScaling{}
	return &rope{RoPEFrequencies: NewRoPEFrequencies(c, nil), dims: c.RopeDim, neox: c.RopeNeoX}
}

// geluTanh is the tanh approximation of GELU in float32 (ggml's ggml_gelu_f32, transformers'
// gelu_pytorch_tanh).
func geluTanh(x float32) float32 {
	const sqrt2OverPi = 0.79788456080286535587989211986876
	const coefA = 0.044715
	return 0.5 * x * (1 + float32(math.Tanh(float64(sqrt2OverPi*x*(1+coefA*x*x)))))
}

// geluTable holds GELU of every F16 value, rounded to F16: ggml's CPU backend computes GELU
// through this table (GGML_GELU_FP16), so llama.cpp's Gemma activations are rounded this way.
var geluTable = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = dtype.F16ToF32(dtype.F32ToF16(geluTanh(dtype.F16ToF32(uint16(i)))))
	}
	return &t
})

// gelu is GELU as ggml's CPU backend computes it: 0 below −10, the identity above 10, and in
// between the input rounded to F16 looked up in geluTable.
func gelu(x float32) float32 {
	switch {
	case x <= -10:
		return 0
	case x >= 10:
		return x
	}
	return geluTable()[dtype.F32ToF16(x)]
}

// exactGELU makes geGLU use geluTanh itself instead of ggml's F16 table; tests set it to compare
// the rest of the forward pass with a float64 reference at 1e-4, which the table's F16 steps
// (about 1e-3 relative) would otherwise blur.
var exactGELU = false

// geGLU replaces gate with gelu(gate)·up, element by element (ggml's geglu).
func geGLU(gate, up []float32) {
	up = up[:len(gate)]
	if exactGELU {
		for i, g := range gate {
			gate[i] = geluTanh(g) * up[i]
		}
		return
	}
	t := geluTable()
	for i, g := range gate {
		switch {
		case g <= -10:
			gate[i] = 0
		case g >= 10:
			gate[i] = g * up[i]
		default:
			gate[i] = t[dtype.F32ToF16(g)] * up[i]
		}
	}
}

// softcap replaces every value v of x with c·tanh(v/c), as ggml computes it (scale by 1/c,
// tanh, scale by c, in float32).
func softcap(x []float32, c float32) {
	inv := 1 / c
	for i, v := range x {
		x[i] = float32(math.Tanh(float64(v*inv))) * c
	}
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
