package codec

import "math"

// SearchBlock fits one block of type g to the weights x with importance weights w (nil:
// uniform) by a search stronger than the reference quantizer's, in the standard layout: it
// starts from g.FitBlock's scales, then tries (1) every F16 super-scale (and super-min) scaled
// by a factor in 1 ± 10% in steps of 1%, and (2) each integer sub-block scale and min moved by
// ±1, keeping a change only when it lowers the weighted squared error Σ e (x − x̂)² of the
// block with every weight at its nearest level, where e = w·√(σ² + x²) (w = 1 when nil) and σ²
// is the block's mean x², the element weights of ggml's importance-matrix quantizers; (2) runs
// twice. The result is never worse than FitBlock's under that error.
func SearchBlock(g Grid, dst []byte, x, w []float32) {
	searchBlock(g, dst, x, w)
}

// searchWeights sets e to SearchBlock's error weights for the block x with importance w.
func searchWeights(e []float64, x, w []float32) {
	s := 0.0
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	sigma2 := s / float64(len(x))
	for i, v := range x {
		e[i] = math.Sqrt(sigma2 + float64(v)*float64(v))
		if w != nil {
			e[i] *= float64(w[i])
		}
	}
}

// tunable is implemented by the codecs with integer sub-block parameters: params returns their
// number, param reads parameter k, setParam stores it (false when v is outside its range), and
// paramSpan is the range of weights parameter k scales.
type tunable interface {
	params() int
	param(b []byte, k int) int32
	setParam(b []byte, k int, v int32) bool
	paramSpan(k int) (lo, hi int)
}

// scaleFields is implemented by every Grid codec: the byte offsets of its F16 block scales.
type scaleFields interface {
	halfFields() []int
}

func searchBlock(g Grid, dst []byte, x, w []float32) {
	g.FitBlock(dst, x, w)
	gr, ok := g.(grid)
	if !ok {
		return
	}
	n := g.BlockSize()
	var e [QKK]float64
	searchWeights(e[:n], x, w)
	errOf := func(b []byte, lo, hi int) float64 {
		s := 0.0
		for i := lo; i < hi; i++ {
			d := float64(x[i] - g.Snap(b, i, x[i]))
			s += e[i] * d * d
		}
		return s
	}
	best := errOf(dst, 0, n)
	trial := make([]byte, len(dst))
	if sf, ok := gr.c.(scaleFields); ok {
		for _, off := range sf.halfFields() {
			h0 := halfAt(dst[off:])
			if h0 == 0 {
				continue
			}
			for step := -10; step <= 10; step++ {
				if step == 0 {
					continue
				}
				copy(trial, dst)
				put16(trial[off:], fp16(h0*(1+float32(step)/100)))
				if e := errOf(trial, 0, n); e < best {
					best = e
					copy(dst, trial)
				}
			}
		}
	}
	tu, ok := gr.c.(tunable)
	if !ok {
		return
	}
	for range 2 {
		for k := range tu.params() {
			lo, hi := tu.paramSpan(k)
			cur := errOf(dst, lo, hi)
			v := tu.param(dst, k)
			for _, dv := range [2]int32{-1, 1} {
				copy(trial, dst)
				if !tu.setParam(trial, k, v+dv) {
					continue
				}
				if e := errOf(trial, lo, hi); e < cur {
					cur = e
					copy(dst, trial)
				}
			}
		}
	}
}

func (q8_0) halfFields() []int  { return []int{0} }
func (q4_0) halfFields() []int  { return []int{0} }
func (q4_1) halfFields() []int  { return []int{0, 2} }
func (q5_0) halfFields() []int  { return []int{0} }
func (q5_1) halfFields() []int  { return []int{0, 2} }
func (q2K) halfFields() []int   { return []int{80, 82} }
func (q3K) halfFields() []int   { return []int{108} }
func (q4K) halfFields() []int   { return []int{0, 2} }
func (q5K) halfFields() []int   { return []int{0, 2} }
func (q6K) halfFields() []int   { return []int{208} }
func (iq4NL) halfFields() []int { return []int{0} }
func (iq4XS) halfFields() []int { return []int{0} }

// Q4_K and Q5_K: parameters 0..7 are the sub-block scales, 8..15 the mins (6 bits each).
func kParam(b []byte, k int) int32 {
	s, m := ScaleMinK4(k%8, b[4:16])
	if k < 8 {
		return int32(s)
	}
	return int32(m)
}

func kSetParam(b []byte, k int, v int32) bool {
	if v < 0 || v > 63 {
		return false
	}
	var s, m [8]uint8
	for j := range 8 {
		s[j], m[j] = ScaleMinK4(j, b[4:16])
	}
	if k < 8 {
		s[k] = uint8(v)
	} else {
		m[k-8] = uint8(v)
	}
	sc := b[4:16]
	for i := range sc {
		sc[i] = 0
	}
	for j := range 8 {
		kPackScales(sc, j, s[j], m[j])
	}
	return true
}

func (q4K) params() int                            { return 16 }
func (q4K) param(b []byte, k int) int32            { return kParam(b, k) }
func (q4K) setParam(b []byte, k int, v int32) bool { return kSetParam(b, k, v) }
func (q4K) paramSpan(k int) (int, int)             { return 32 * (k % 8), 32*(k%8) + 32 }
func (q5K) params() int                            { return 16 }
func (q5K) param(b []byte, k int) int32            { return kParam(b, k) }
func (q5K) setParam(b []byte, k int, v int32) bool { return kSetParam(b, k, v) }
func (q5K) paramSpan(k int) (int, int)             { return 32 * (k % 8), 32*(k%8) + 32 }

// Q6_K: the 16 int8 sub-block scales.
func (q6K) params() int                 { return 16 }
func (q6K) param(b []byte, k int) int32 { return int32(int8(b[192+k])) }
func (q6K) setParam(b []byte, k int, v int32) bool {
	if v < -128 || v > 127 {
		return false
	}
	b[192+k] = byte(int8(v))
	return true
}
func (q6K) paramSpan(k int) (int, int) { return 16 * k, 16*k + 16 }

// Q3_K: the 16 signed 6-bit sub-block scales.
func (q3K) params() int                 { return 16 }
func (q3K) param(b []byte, k int) int32 { return int32(Q3KScale(b[96:108], k)) }
func (q3K) setParam(b []byte, k int, v int32) bool {
	if v < -32 || v > 31 {
		return false
	}
	var s [16]int32
	for j := range 16 {
		s[j] = int32(Q3KScale(b[96:108], j))
	}
	s[k] = v
	sc := b[96:108]
	for i := range sc {
		sc[i] = 0
	}
	for j := range 16 {
		q3KSetScale(sc, j, s[j]+32)
	}
	return true
}
func (q3K) paramSpan(k int) (int, int) { return 16 * k, 16*k + 16 }

// Q2_K: parameters 0..15 are the 4-bit sub-block scales, 16..31 the mins.
func (q2K) params() int { return 32 }
func (q2K) param(b []byte, k int) int32 {
	if k < 16 {
		return int32(b[k] & 0xf)
	}
	return int32(b[k-16] >> 4)
}
func (q2K) setParam(b []byte, k int, v int32) bool {
	if v < 0 || v > 15 {
		return false
	}
	if k < 16 {
		b[k] = b[k]&0xf0 | uint8(v)
	} else {
		b[k-16] = b[k-16]&0x0f | uint8(v)<<4
	}
	return true
}
func (q2K) paramSpan(k int) (int, int) { return 16 * (k % 16), 16*(k%16) + 16 }

// IQ4_XS: the eight signed 6-bit sub-block scales.
func (iq4XS) params() int                 { return 8 }
func (iq4XS) param(b []byte, k int) int32 { return IQ4XSScale(b, k) }
func (iq4XS) setParam(b []byte, k int, v int32) bool {
	if v < -32 || v > 31 {
		return false
	}
	l := uint16(v + 32)
	sh := le16(b[2:])
	sh = sh&^(3<<(2*k)) | (l>>4&3)<<(2*k)
	put16(b[2:], sh)
	p := &b[4+k/2]
	s := uint(4 * (k % 2))
	*p = *p&^(0xf<<s) | uint8(l&0xf)<<s
	return true
}
func (iq4XS) paramSpan(k int) (int, int) { return 32 * k, 32*k + 32 }
