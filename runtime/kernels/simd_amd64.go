//go:build amd64 && !purego

package kernels

import (
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/mcompress/mcompress/convert/gguf"
)

func init() {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasF16C {
		return
	}
	simdName = "avx2"
	dotF32SIMD = dotF32Wrap
	axpyF32SIMD = axpyF32Wrap
	kernels[gguf.TypeF32].dot = dotF32RowAVX2
	kernels[gguf.TypeF16].dot = dotF16RowAVX2
	for _, typ := range []gguf.TensorType{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		bb := 34
		if typ == gguf.TypeQ4_0 {
			bb = 18
		}
		kernels[typ].dot = func(w []byte, r *row) float32 { return dotB32AVX2(bb, w, r) }
		kernels[typ].dot4 = func(w []byte, r *row, n int, out *[4]float32) { dotB32x4AVX2(bb, w, r, n, out) }
	}
	kernels[gguf.TypeQ4_K].dot = func(w []byte, r *row) float32 {
		return dotQ4_KAVX2(&w[0], &r.q[0], &r.d[0], &r.s[0], len(r.d))
	}
	kernels[gguf.TypeQ6_K].dot = func(w []byte, r *row) float32 {
		return dotQ6_KAVX2(&w[0], &r.q[0], &r.d[0], &r.s[0], len(r.d))
	}
	for _, typ := range []gguf.TensorType{gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeIQ4_NL, gguf.TypeQ5_K, gguf.TypeQ3_K, gguf.TypeQ2_K, gguf.TypeIQ4_XS} {
		kernels[typ].dot = func(w []byte, r *row) float32 { return dotX1AVX2(typ, w, r) }
		kernels[typ].dot4 = func(w []byte, r *row, n int, out *[4]float32) { dotX4AVX2(typ, w, r, n, out) }
	}
	kernels[gguf.TypeBF16].dot = func(w []byte, r *row) float32 {
		x := r.f
		n := len(x) &^ 31
		var s float32
		if n > 0 {
			s = dotBF16AVX2(&w[0], &x[0], n)
		}
		for i := n; i < len(x); i++ {
			s += bf16le(w[2*i:]) * x[i]
		}
		return s
	}
	kernels[gguf.TypeBF16].dot4 = func(w []byte, r *row, n int, out *[4]float32) {
		if n%16 != 0 {
			xs := unsafe.Slice(&r.f[0], 4*n)
			for t := range 4 {
				out[t] = kernels[gguf.TypeBF16].dot(w, &row{f: xs[t*n : (t+1)*n]})
			}
			return
		}
		dotBF16x4AVX2(&w[0], &r.f[0], 4*n, n, &out[0])
	}
	kernels[gguf.TypeF16].dot4 = func(w []byte, r *row, n int, out *[4]float32) {
		if n%16 != 0 {
			for t := range 4 {
				out[t] = dotF16RowAVX2(w, &row{f: unsafe.Slice(&r.f[0], 4*n)[t*n : (t+1)*n]})
			}
			return
		}
		dotF16x4AVX2(&w[0], &r.f[0], 4*n, n, &out[0])
	}
	kernels[gguf.TypeQ4_K].dot4 = func(w []byte, r *row, n int, out *[4]float32) {
		dotQ4_Kx4AVX2(&w[0], &r.q[0], n, &r.d[0], n/QK_K*4, &r.s[0], n/QK_K*32, len(r.d), &out[0])
	}
	kernels[gguf.TypeQ6_K].dot4 = func(w []byte, r *row, n int, out *[4]float32) {
		dotQ6_Kx4AVX2(&w[0], &r.q[0], n, &r.d[0], n/QK_K*4, &r.s[0], n/QK_K*32, len(r.d), &out[0])
	}
	if cpu.X86.HasAVX512F && os.Getenv("MCOMPRESS_SIMD") != "avx2" {
		useAVX512()
	}
}

// useAVX512 installs the 512-bit float kernels (the integer kernels stay AVX2).
func useAVX512() {
	simdName = "avx512"
	dotF32SIMD = func(x, y []float32) float32 {
		n := len(x) &^ 63
		if n == 0 {
			return dotF32Wrap(x, y)
		}
		y = y[:len(x)]
		return dotF32AVX512(&x[0], &y[0], n) + dotF32Wrap(x[n:], y[n:])
	}
	axpyF32SIMD = func(a float32, x, y []float32) {
		n := len(x) &^ 31
		y = y[:len(x)]
		if n > 0 {
			axpyF32AVX512(a, &x[0], &y[0], n)
		}
		axpyF32Wrap(a, x[n:], y[n:])
	}
	kernels[gguf.TypeF32].dot = func(w []byte, r *row) float32 {
		n := len(r.f) &^ 63
		if n == 0 {
			return dotF32RowAVX2(w, r)
		}
		s := dotF32AVX512((*float32)(unsafePointer(&w[0])), &r.f[0], n)
		return s + dotF32RowAVX2(w[4*n:], &row{f: r.f[n:]})
	}
	kernels[gguf.TypeF16].dot = func(w []byte, r *row) float32 {
		n := len(r.f) &^ 63
		if n == 0 {
			return dotF16RowAVX2(w, r)
		}
		s := dotF16AVX512(&w[0], &r.f[0], n)
		return s + dotF16RowAVX2(w[2*n:], &row{f: r.f[n:]})
	}
	if cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasBMI2 {
		gemmF32Tiles = []gemmTile{{4, 64, gemmF32x4x64AVX512}, {8, 32, gemmF32x8x32AVX512}, {8, 16, gemmF32x8x16AVX512}}
		softmaxSIMD = softmaxAVX512
		swigluSIMD = swigluAVX512
		quantQ8SIMD = quantQ8AVX512
		quantQ8KSIMD = quantQ8KAVX512
		transpose16SIMD = transpose16AVX512
		if cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512GFNI {
			kernels[gguf.TypeQ4_K].dot = func(w []byte, r *row) float32 {
				return dotQ4_KAVX512(&w[0], &r.q[0], &r.d[0], &r.s[0], len(r.d))
			}
			kernels[gguf.TypeQ6_K].dot = func(w []byte, r *row) float32 {
				return dotQ6_KAVX512(&w[0], &r.q[0], &r.d[0], &r.s[0], len(r.d))
			}
			kernels[gguf.TypeQ4_K].dot4 = func(w []byte, r *row, n int, out *[4]float32) {
				dotQ4_Kx4AVX512(&w[0], &r.q[0], n, &r.d[0], n/QK_K*4, &r.s[0], n/QK_K*32, len(r.d), &out[0])
			}
			kernels[gguf.TypeQ6_K].dot4 = func(w []byte, r *row, n int, out *[4]float32) {
				dotQ6_Kx4AVX512(&w[0], &r.q[0], n, &r.d[0], n/QK_K*4, &r.s[0], n/QK_K*32, len(r.d), &out[0])
			}
		}
		if cpu.X86.HasAVX512VNNI {
			for typ, g := range map[gguf.TensorType]groupKernel{
				gguf.TypeQ4_K: {prepBytes: prepK8Bytes, prep: asmPrep(prepQ4_KAVX512), mul: mulK8AVX512, act: ActQ8K},
				gguf.TypeQ5_K: {prepBytes: prepK8Bytes, prep: asmPrep(prepQ5_KAVX512), mul: mulK8AVX512, act: ActQ8K},
				gguf.TypeQ6_K: {prepBytes: prepQ6KBytes, prep: asmPrep(prepQ6_KAVX512), mul: mulQ6_KAVX512, act: ActQ8K},
				gguf.TypeQ8_0: {prepBytes: prepB32Bytes, prep: asmPrep(prepQ8_0AVX512), mul: mulB32AVX512, act: ActQ8},
				gguf.TypeQ4_0: {prepBytes: prepB32Bytes, prep: asmPrep(prepQ4_0AVX512), mul: mulB32AVX512, act: ActQ8},
			} {
				kernels[typ].g16 = &g
			}
		}
	}
	avx2F16x4 := kernels[gguf.TypeF16].dot4
	kernels[gguf.TypeF16].dot4 = func(w []byte, r *row, n int, out *[4]float32) {
		if n%32 != 0 {
			avx2F16x4(w, r, n, out)
			return
		}
		dotF16x4AVX512(&w[0], &r.f[0], 4*n, n, &out[0])
	}
	for typ, tile := range map[gguf.TensorType]func(w *byte, ws int, x *float32, xs int, n int, out *float32, os int){
		gguf.TypeF16: gemmF16x4x4AVX512, gguf.TypeF32: gemmF32x4x4AVX512, gguf.TypeBF16: gemmBF16x4x4AVX512,
	} {
		k := kernels[typ]
		if k.dot4 == nil {
			k.dot4 = func(w []byte, r *row, n int, out *[4]float32) {
				xs := unsafe.Slice(&r.f[0], 4*n)
				for t := range 4 {
					out[t] = k.dot(w, &row{f: xs[t*n : (t+1)*n]})
				}
			}
		}
		k.tile4 = func(w []byte, rb int, r *row, n int, out []float32, os int) {
			if n%16 != 0 {
				tile4ByRows(k.dot4, w, rb, r, n, out, os)
				return
			}
			_ = out[3*os+3]
			tile(&w[0], rb, &r.f[0], 4*n, n, &out[0], 4*os)
		}
	}
}

// dotB32AVX2 is the one-token Q8_0 (bb = 34) or Q4_0 (bb = 18) dot product (see finishB32).
// The kernels are called directly rather than through function values so that c stays on
// the stack.
func dotB32AVX2(bb int, w []byte, r *row) float32 {
	var c [4]float32
	nb4 := len(r.d) / 4
	if nb4 > 0 {
		_ = w[4*nb4*bb-1]
		if bb == 18 {
			dotQ4_0cAVX2(&w[0], &r.q[0], &r.d[0], nb4, &c[0])
		} else {
			dotQ8_0cAVX2(&w[0], &r.q[0], &r.d[0], nb4, &c[0])
		}
	}
	if 4*nb4 == len(r.d) {
		return (c[0] + c[1]) + (c[2] + c[3])
	}
	return finishB32(&c, 4*nb4, w, bb, r)
}

// dotB32x4AVX2 is dotB32AVX2 for four consecutive tokens.
func dotB32x4AVX2(bb int, w []byte, r *row, n int, out *[4]float32) {
	var c [4][4]float32
	nb := n / QK8
	nb4 := nb / 4
	qs, ds := unsafe.Slice(&r.q[0], 4*n), unsafe.Slice(&r.d[0], 4*nb)
	if nb4 > 0 {
		_ = w[4*nb4*bb-1]
		if bb == 18 {
			dotQ4_0cx4AVX2(&w[0], &r.q[0], n, &r.d[0], 4*nb, nb4, &c[0][0])
		} else {
			dotQ8_0cx4AVX2(&w[0], &r.q[0], n, &r.d[0], 4*nb, nb4, &c[0][0])
		}
	}
	for t := range 4 {
		if 4*nb4 == nb {
			out[t] = (c[t][0] + c[t][1]) + (c[t][2] + c[t][3])
			continue
		}
		rt := row{q: qs[t*n : (t+1)*n], d: ds[t*nb : (t+1)*nb]}
		out[t] = finishB32(&c[t], 4*nb4, w, bb, &rt)
	}
}

// dotX1AVX2 runs the generated one-token kernel of typ (block32 and K-quant families).
func dotX1AVX2(typ gguf.TensorType, w []byte, r *row) float32 {
	var out [4]float32
	wp, qp, dp, sp, nb := &w[0], &r.q[0], &r.d[0], &r.s[0], len(r.d)
	switch typ {
	case gguf.TypeQ4_1:
		dotQ4_1x1AVX2(wp, qp, 0, dp, 0, sp, 0, nb, &out[0])
	case gguf.TypeQ5_0:
		dotQ5_0x1AVX2(wp, qp, 0, dp, 0, sp, 0, nb, &out[0])
	case gguf.TypeQ5_1:
		dotQ5_1x1AVX2(wp, qp, 0, dp, 0, sp, 0, nb, &out[0])
	case gguf.TypeIQ4_NL:
		dotIQ4_NLx1AVX2(wp, qp, 0, dp, 0, sp, 0, nb, &out[0])
	case gguf.TypeQ5_K:
		dotQ5_Kx1AVX2(wp, qp, 0, dp, 0, sp, 0, nb, &out[0])
	case gguf.TypeQ3_K:
		dotQ3_Kx1AVX2(wp, qp, 0, dp, 0, sp, 0, nb, &out[0])
	case gguf.TypeQ2_K:
		dotQ2_Kx1AVX2(wp, qp, 0, dp, 0, sp, 0, nb, &out[0])
	case gguf.TypeIQ4_XS:
		dotIQ4_XSx1AVX2(wp, qp, 0, dp, 0, sp, 0, nb, &out[0])
	}
	return out[0]
}

// dotX4AVX2 runs the generated four-token kernel of typ (block32 and K-quant families).
func dotX4AVX2(typ gguf.TensorType, w []byte, r *row, n int, out *[4]float32) {
	wp, qp, dp, sp, nb := &w[0], &r.q[0], &r.d[0], &r.s[0], len(r.d)
	qs, ds, ss := n, n/QK8*4, n/QK8*2
	if kernels[typ].act == ActQ8K {
		ds, ss = n/QK_K*4, n/QK_K*32
	}
	switch typ {
	case gguf.TypeQ4_1:
		dotQ4_1x4AVX2(wp, qp, qs, dp, ds, sp, ss, nb, &out[0])
	case gguf.TypeQ5_0:
		dotQ5_0x4AVX2(wp, qp, qs, dp, ds, sp, ss, nb, &out[0])
	case gguf.TypeQ5_1:
		dotQ5_1x4AVX2(wp, qp, qs, dp, ds, sp, ss, nb, &out[0])
	case gguf.TypeIQ4_NL:
		dotIQ4_NLx4AVX2(wp, qp, qs, dp, ds, sp, ss, nb, &out[0])
	case gguf.TypeQ5_K:
		dotQ5_Kx4AVX2(wp, qp, qs, dp, ds, sp, ss, nb, &out[0])
	case gguf.TypeQ3_K:
		dotQ3_Kx4AVX2(wp, qp, qs, dp, ds, sp, ss, nb, &out[0])
	case gguf.TypeQ2_K:
		dotQ2_Kx4AVX2(wp, qp, qs, dp, ds, sp, ss, nb, &out[0])
	case gguf.TypeIQ4_XS:
		dotIQ4_XSx4AVX2(wp, qp, qs, dp, ds, sp, ss, nb, &out[0])
	}
}

// tile4ByRows computes a four-row tile with a four-token kernel, one row at a time.
func tile4ByRows(dot4 func(w []byte, r *row, n int, out *[4]float32), w []byte, rb int, r *row, n int, out []float32, os int) {
	var o [4]float32
	for i := range 4 {
		dot4(w[i*rb:(i+1)*rb], r, n, &o)
		for t := range 4 {
			out[t*os+i] = o[t]
		}
	}
}

func dotF32Wrap(x, y []float32) float32 {
	n := len(x) &^ 31
	y = y[:len(x)]
	var s float32
	if n > 0 {
		s = dotF32AVX2(&x[0], &y[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * y[i]
	}
	return s
}

func axpyF32Wrap(a float32, x, y []float32) {
	n := len(x) &^ 15
	y = y[:len(x)]
	if n > 0 {
		axpyF32AVX2(a, &x[0], &y[0], n)
	}
	for i := n; i < len(x); i++ {
		y[i] += a * x[i]
	}
}

func dotF32RowAVX2(w []byte, r *row) float32 {
	x := r.f
	n := len(x) &^ 31
	var s float32
	if n > 0 {
		s = dotF32AVX2((*float32)(unsafePointer(&w[0])), &x[0], n)
	}
	for i := n; i < len(x); i++ {
		s += f32le(w[4*i:]) * x[i]
	}
	return s
}

func dotF16RowAVX2(w []byte, r *row) float32 {
	x := r.f
	n := len(x) &^ 31
	var s float32
	if n > 0 {
		s = dotF16AVX2(&w[0], &x[0], n)
	}
	for i := n; i < len(x); i++ {
		s += f16le(w[2*i:]) * x[i]
	}
	return s
}

// mulK8AVX512 runs the Q4_K/Q5_K 16-token kernel (see groupKernel.mul).
func mulK8AVX512(wp []byte, ws, nb int, x *groups, g0, ng int, out []float32, os int) {
	gb := g0 * x.nb
	_, _ = wp[ws+nb*prepK8Bytes-1], out[os+ng*groupTokens-1]
	_, _, _ = x.q[(gb+ng*nb)*groupTokens*QK_K-1], x.d[(gb+ng*nb)*groupTokens-1], x.b[(gb+ng*nb)*groupTokens*8-1]
	gemmQ4_Kx16AVX512(&wp[0], ws, nb, &x.q[gb*groupTokens*QK_K], &x.d[gb*groupTokens], &x.b[gb*groupTokens*8], ng, &out[0], 4*os)
}

// mulQ6_KAVX512 runs the Q6_K 16-token kernel (see groupKernel.mul).
func mulQ6_KAVX512(wp []byte, ws, nb int, x *groups, g0, ng int, out []float32, os int) {
	gb := g0 * x.nb
	_, _ = wp[ws+nb*prepQ6KBytes-1], out[os+ng*groupTokens-1]
	_, _ = x.q[(gb+ng*nb)*groupTokens*QK_K-1], x.d[(gb+ng*nb)*groupTokens-1]
	gemmQ6_Kx16AVX512(&wp[0], ws, nb, &x.q[gb*groupTokens*QK_K], &x.d[gb*groupTokens], ng, &out[0], 4*os)
}

// mulB32AVX512 runs the 16-token kernel of 32-weight blocks (see groupKernel.mul).
func mulB32AVX512(wp []byte, ws, nb int, x *groups, g0, ng int, out []float32, os int) {
	gb := g0 * x.nb
	_, _ = wp[ws+nb*prepB32Bytes-1], out[os+ng*groupTokens-1]
	_, _ = x.q[(gb+ng*nb)*groupTokens*QK8-1], x.d[(gb+ng*nb)*groupTokens-1]
	gemmB32x16AVX512(&wp[0], ws, nb, &x.q[gb*groupTokens*QK8], &x.d[gb*groupTokens], ng, &out[0], 4*os)
}

// asmPrep adapts an assembly row-preparation kernel to groupKernel.prep.
func asmPrep(f func(w *byte, nsb int, dst *byte)) func(dst, w []byte, nb int) {
	return func(dst, w []byte, nb int) { f(&w[0], nb, &dst[0]) }
}
