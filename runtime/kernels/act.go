package kernels

import (
	"math"

	"github.com/mcompress/mcompress/quantize/codec"
)

// ActKind is the activation format a weight type's dot product consumes.
type ActKind uint8

// The activation formats.
const (
	// ActF32 is plain float32 activations (F32, F16, BF16 and dequantized weights).
	ActF32 ActKind = iota
	// ActQ8 is 8-bit activations in blocks of 32, one float32 scale and one sum per block
	// (ggml's Q8_0 and Q8_1).
	ActQ8
	// ActQ8K is 8-bit activations in blocks of 256, one float32 scale per block and the sum of
	// every 16 values (ggml's Q8_K).
	ActQ8K
)

// Block sizes of the quantized activation formats, those of the codecs' Q8_0 and Q8_K.
const (
	QK8  = codec.QK  // elements per ActQ8 block (32)
	QK_K = codec.QKK // elements per ActQ8K block (and per K-quant super-block: 256)
)

// Acts holds a batch of activation rows (ntok rows of n float32 values) together with their
// quantized forms, which are computed on first use and reused by every weight matrix that reads
// the same input (the Q, K and V projections, or the gate and up projections).
type Acts struct {
	// F is the float32 input, ntok rows of N values.
	F    []float32
	N    int
	Ntok int

	q8, q8k       []int8
	d8, d8k       []float32
	s8, s8k       []int16
	have8, have8k bool

	g8, g8k         groups // 16-token forms of the quantized activations (g16.go)
	haveG8, haveG8k bool
}

// Reset points a at x (ntok rows of n values) and forgets earlier quantized forms. The slices
// already allocated are reused.
func (a *Acts) Reset(x []float32, ntok, n int) {
	a.F, a.N, a.Ntok = x[:ntok*n], n, ntok
	a.have8, a.have8k, a.haveG8, a.haveG8k = false, false, false, false
}

// row is one activation row in every form a dot product may need.
type row struct {
	f []float32 // float32 values
	q []int8    // quantized values
	d []float32 // one scale per block
	s []int16   // per-block sums (ActQ8) or per-16 sums (ActQ8K)
}

// prepare makes sure the form kind exists, quantizing rows in parallel on p.
func (a *Acts) prepare(kind ActKind, p *Pool) {
	switch kind {
	case ActQ8:
		if a.have8 {
			return
		}
		nb := a.N / QK8
		a.q8 = grow(a.q8, a.Ntok*a.N)
		a.d8 = grow(a.d8, a.Ntok*nb)
		a.s8 = grow(a.s8, a.Ntok*nb)
		p.For(a.Ntok, ChunkFor(4*a.N), func(lo, hi int) {
			for t := lo; t < hi; t++ {
				QuantizeQ8(a.q8[t*a.N:(t+1)*a.N], a.d8[t*nb:(t+1)*nb], a.s8[t*nb:(t+1)*nb], a.F[t*a.N:(t+1)*a.N])
			}
		})
		a.have8 = true
	case ActQ8K:
		if a.have8k {
			return
		}
		nb := a.N / QK_K
		a.q8k = grow(a.q8k, a.Ntok*a.N)
		a.d8k = grow(a.d8k, a.Ntok*nb)
		a.s8k = grow(a.s8k, a.Ntok*nb*16)
		p.For(a.Ntok, ChunkFor(4*a.N), func(lo, hi int) {
			for t := lo; t < hi; t++ {
				QuantizeQ8K(a.q8k[t*a.N:(t+1)*a.N], a.d8k[t*nb:(t+1)*nb], a.s8k[t*nb*16:(t+1)*nb*16], a.F[t*a.N:(t+1)*a.N])
			}
		})
		a.have8k = true
	}
}

// row returns token t's activations in form kind (prepare must have run).
func (a *Acts) row(kind ActKind, t int, r *row) {
	n := a.N
	r.f = a.F[t*n : (t+1)*n]
	switch kind {
	case ActQ8:
		nb := n / QK8
		r.q, r.d, r.s = a.q8[t*n:(t+1)*n], a.d8[t*nb:(t+1)*nb], a.s8[t*nb:(t+1)*nb]
	case ActQ8K:
		nb := n / QK_K
		r.q, r.d, r.s = a.q8k[t*n:(t+1)*n], a.d8k[t*nb:(t+1)*nb], a.s8k[t*nb*16:(t+1)*nb*16]
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// SIMD versions of the quantizers (bit-exact), installed by the architecture files.
var quantQ8SIMD, quantQ8KSIMD func(q *int8, d *float32, s *int16, x *float32, nb int)

// QuantizeQ8 quantizes x (a multiple of 32 values) to 8-bit integers in blocks of 32: each
// block's scale d[b] is max|x|/127, q = round(x/d), and s[b] is the sum of the block's q.
func QuantizeQ8(q []int8, d []float32, s []int16, x []float32) {
	nb := len(x) / QK8
	if quantQ8SIMD != nil && !UsePureGo && nb > 0 {
		_, _, _ = q[nb*QK8-1], d[nb-1], s[nb-1]
		quantQ8SIMD(&q[0], &d[0], &s[0], &x[0], nb)
		return
	}
	for b := range nb {
		xb := x[b*QK8 : (b+1)*QK8]
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		dd := amax / 127
		var id float32
		if dd != 0 {
			id = 1 / dd
		}
		qb := q[b*QK8 : (b+1)*QK8]
		var sum int
		for i, v := range xb {
			r := int(roundAway(v * id))
			qb[i] = int8(r)
			sum += r
		}
		d[b], s[b] = dd, int16(sum)
	}
}

// QuantizeQ8K quantizes x (a multiple of 256 values) to 8-bit integers in blocks of 256 with
// scale d[b] = max|x|/127 and s holding the sum of every 16 consecutive q.
func QuantizeQ8K(q []int8, d []float32, s []int16, x []float32) {
	nb := len(x) / QK_K
	if quantQ8KSIMD != nil && !UsePureGo && nb > 0 {
		_, _, _ = q[nb*QK_K-1], d[nb-1], s[nb*16-1]
		quantQ8KSIMD(&q[0], &d[0], &s[0], &x[0], nb)
		return
	}
	for b := range nb {
		xb := x[b*QK_K : (b+1)*QK_K]
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		dd := amax / 127
		var id float32
		if dd != 0 {
			id = 1 / dd
		}
		qb := q[b*QK_K : (b+1)*QK_K]
		for i, v := range xb {
			qb[i] = int8(min(127, max(-127, roundAway(v*id))))
		}
		for j := range 16 {
			var sum int
			for _, v := range qb[j*16 : (j+1)*16] {
				sum += int(v)
			}
			s[b*16+j] = int16(sum)
		}
		d[b] = dd
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// roundAway rounds half away from zero, as C's roundf.
func roundAway(v float32) float32 { return float32(math.Round(float64(v))) }
