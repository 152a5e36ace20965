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

// rope holds what rotary embeddings need: the base frequency of every pair, and the
// NeoX/interleaved ordering.
type rope struct {
	dims      int       // rotated dimensions per head
	neox      bool      // pairs (i, i+dims/2) rather than (2i, 2i+1)
	invFreq   []float64 // angle per position of each pair, scaling applied
	yarnMix   []float64 // YaRN: weight of the unscaled angle for each pair (nil if not YaRN)
	freqScale float64   // YaRN: the interpolation factor
	mscale    float64   // magnitude correction of cos and sin (1 unless YaRN)
}

// newRope prepares the frequencies for a model, following ggml's rope: theta_i = pos *
// base^(-2i/dims) / freqFactor_i, scaled by 1/factor for linear scaling, and blended with the
// unscaled angle per pair for YaRN.
func newRope(m *Model) *rope {
	cfg := m.cfg
	r := &rope{dims: cfg.RopeDim, neox: cfg.RopeNeoX, mscale: 1, freqScale: 1}
	half := cfg.RopeDim / 2
	r.invFreq = make([]float64, half)
	if cfg.RopeScaling.Factor > 0 && (cfg.RopeScaling.Type == "linear" || cfg.RopeScaling.Type == "yarn") {
		r.freqScale = 1 / cfg.RopeScaling.Factor
	}
	for i := range half {
		f := math.Pow(cfg.RopeTheta, -2*float64(i)/float64(cfg.RopeDim))
		if m.ropeFreqs != nil && m.ropeFreqs[i] != 0 {
			f /= float64(m.ropeFreqs[i])
		}
		r.invFreq[i] = f
	}
	if cfg.RopeScaling.Type == "yarn" && r.freqScale != 1 {
		// ggml's rope_yarn with ext_factor 1, beta_fast 32, beta_slow 1.
		nCtx := float64(cfg.RopeScaling.OriginalContext)
		if nCtx <= 0 {
			nCtx = float64(cfg.ContextLength)
		}
		corr := func(nRot float64) float64 {
			return float64(cfg.RopeDim) * math.Log(nCtx/(nRot*2*math.Pi)) / (2 * math.Log(cfg.RopeTheta))
		}
		lo := max(0, math.Floor(corr(32)))
		hi := min(float64(cfg.RopeDim-1), math.Ceil(corr(1)))
		r.yarnMix = make([]float64, half)
		for i := range half {
			y := (float64(i) - lo) / max(0.001, hi-lo)
			r.yarnMix[i] = 1 - min(1, max(0, y))
		}
		r.mscale = 1 + 0.1*math.Log(1/r.freqScale)
	} else {
		for i := range r.invFreq {
			r.invFreq[i] *= r.freqScale
		}
	}
	return r
}

// table fills cs with cos and sin of each pair's angle at position pos: cs[2i], cs[2i+1].
func (r *rope) table(cs []float32, pos int) {
	p := float64(pos)
	for i, f := range r.invFreq {
		theta := p * f
		if r.yarnMix != nil {
			theta = theta*r.freqScale*(1-r.yarnMix[i]) + theta*r.yarnMix[i]
		}
		s, c := math.Sincos(theta)
		cs[2*i], cs[2*i+1] = float32(c*r.mscale), float32(s*r.mscale)
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
