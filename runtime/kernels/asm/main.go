// This program generates the AVX2 kernels of package kernels (../kernels_amd64.s and the Go
// declarations in ../kernels_stubs_amd64.go) with avo. Run it through go generate in the
// parent folder:
//
//	go generate ./runtime/kernels
//
// Operands follow the Go assembler's order: sources first, destination last.
package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	constants()
	shuffleConstants()
	ConstraintExpr("amd64,!purego")
	dotF32()
	axpyF32()
	dotF16()
	dotB32Canon("Q8_0", 34, q8_0Loader)
	dotB32Canon("Q4_0", 18, q4_0Loader)
	dotQ4_K()
	dotQ6_K()
	dotF16x4()
	dotB32Canonx4("Q8_0", 34, q8_0Loader)
	dotB32Canonx4("Q4_0", 18, q4_0Loader)
	dotQ4_Kx4()
	dotQ6_Kx4()
	for _, T := range []int{1, 4} {
		dotQ4_1(T)
		dotQ5_0(T)
		dotQ5_1(T)
		dotIQ4_NL(T)
		dotQ5_K(T)
		dotQ3_K(T)
		dotQ2_K(T)
		dotIQ4_XS(T)
	}
	dotBF16()
	dotBF16x4()
	dotF32AVX512()
	axpyF32AVX512()
	dotF16AVX512()
	dotF16x4AVX512()
	gemmF16x4x4()
	transpose16()
	gemmF32(8, 2)
	gemmF32(4, 4)
	gemmF32(8, 1)
	softmaxRow()
	swiglu()
	quantQ8()
	quantQ8K()
	prepQ4_K()
	prepQ5_K()
	gemmQ4_Kx16()
	prepQ6_K()
	gemmQ6_Kx16()
	prepQ8_0()
	prepQ4_0()
	gemmB32x16()
	dotQ4_KVNNI()
	dotQ6_KVNNI()
	dotQ4_Kx4VNNI()
	dotQ6_Kx4VNNI()
	Generate()
}

// consts holds the 32-byte constants already emitted, by name.
var consts = map[string]Mem{}

// const32 returns a read-only 32-byte constant made of the 32-bit word v repeated; vector
// instructions read it as a memory operand, which keeps registers free.
func const32(name string, v uint32) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(v))
	}
	consts[name] = m
	return m
}

// broadcastB returns a constant of 32 bytes v.
func broadcastB(v uint32) Mem { return const32(fmt.Sprintf("bytes%02x", v), v*0x01010101) }

// broadcastW returns a constant of 16 words v.
func broadcastW(v uint32) Mem { return const32(fmt.Sprintf("words%04x", v), v|v<<16) }

// hsum returns the horizontal sum of the 8 floats of y in the low lane of an XMM register.
func hsum(y VecVirtual) Register {
	hi := XMM()
	VEXTRACTF128(U8(1), y, hi)
	lo := y.AsX()
	VADDPS(hi, lo, lo)
	VHADDPS(lo, lo, lo)
	VHADDPS(lo, lo, lo)
	return lo
}

// f16Scale loads the F16 value at m, multiplies it by the float32 at d and broadcasts the
// product to a YMM register.
func f16Scale(m, d Mem) VecVirtual {
	r := GP32()
	MOVWLZX(m, r)
	x := XMM()
	VMOVD(r, x)
	VCVTPH2PS(x, x)
	VMULSS(d, x, x)
	y := YMM()
	VBROADCASTSS(x, y)
	return y
}

// dotI8 returns the 8 int32 sums of products of the signed bytes of w and q, four bytes per
// lane (the sign trick: |w| as unsigned times q with w's sign).
func dotI8(w, q VecVirtual, ones Mem) VecVirtual {
	ax := YMM()
	VPSIGNB(w, w, ax)
	sy := YMM()
	VPSIGNB(w, q, sy)
	p := YMM()
	VPMADDUBSW(sy, ax, p)
	VPMADDWD(ones, p, p)
	return p
}

func dotF32() {
	text("dotF32AVX2", NOSPLIT, "func(x, y *float32, n int) float32")
	Doc("dotF32AVX2 returns the dot product of n floats at x and y; n is a multiple of 32.")
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	acc := [4]VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	Label("loop")
	CMPQ(n, U8(32))
	JL(LabelRef("done"))
	for i, a := range acc {
		v := YMM()
		VMOVUPS(Mem{Base: x, Disp: 32 * i}, v)
		VFMADD231PS(Mem{Base: y, Disp: 32 * i}, v, a)
	}
	ADDQ(U8(128), x)
	ADDQ(U8(128), y)
	SUBQ(U8(32), n)
	JMP(LabelRef("loop"))
	Label("done")
	VADDPS(acc[2], acc[0], acc[0])
	VADDPS(acc[3], acc[1], acc[1])
	VADDPS(acc[1], acc[0], acc[0])
	s := hsum(acc[0])
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

func axpyF32() {
	text("axpyF32AVX2", NOSPLIT, "func(a float32, x, y *float32, n int)")
	Doc("axpyF32AVX2 adds a times the n floats at x to those at y; n is a multiple of 16.")
	ax := XMM()
	VMOVSS(NewParamAddr("a", 0), ax)
	a := YMM()
	VBROADCASTSS(ax, a)
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	Label("loop")
	CMPQ(n, U8(16))
	JL(LabelRef("done"))
	for i := range 2 {
		v := YMM()
		VMOVUPS(Mem{Base: y, Disp: 32 * i}, v)
		VFMADD231PS(Mem{Base: x, Disp: 32 * i}, a, v)
		VMOVUPS(v, Mem{Base: y, Disp: 32 * i})
	}
	ADDQ(U8(64), x)
	ADDQ(U8(64), y)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

func dotF16() {
	text("dotF16AVX2", NOSPLIT, "func(w *byte, x *float32, n int) float32")
	Doc("dotF16AVX2 returns the dot product of n F16 values at w with n floats at x; n is a multiple of 32.")
	w := Load(Param("w"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	acc := [4]VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	Label("loop")
	CMPQ(n, U8(32))
	JL(LabelRef("done"))
	for i, a := range acc {
		v := YMM()
		VCVTPH2PS(Mem{Base: w, Disp: 16 * i}, v)
		VFMADD231PS(Mem{Base: x, Disp: 32 * i}, v, a)
	}
	ADDQ(U8(64), w)
	ADDQ(U8(128), x)
	SUBQ(U8(32), n)
	JMP(LabelRef("loop"))
	Label("done")
	VADDPS(acc[2], acc[0], acc[0])
	VADDPS(acc[3], acc[1], acc[1])
	VADDPS(acc[1], acc[0], acc[0])
	s := hsum(acc[0])
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

// strided addresses the activations of token t (0..3) as base + t*stride.
type strided struct{ base, stride Register }

func loadStrided(base, stride string) strided {
	return strided{Load(Param(base), GP64()), Load(Param(stride), GP64())}
}

func (s strided) at(t, disp int) Mem {
	switch t {
	case 0:
		return Mem{Base: s.base, Disp: disp}
	case 1:
		return Mem{Base: s.base, Index: s.stride, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: s.base, Index: s.stride, Scale: 2, Disp: disp}
	}
	p := GP64()
	LEAQ(Mem{Base: s.base, Index: s.stride, Scale: 2}, p)
	return Mem{Base: p, Index: s.stride, Scale: 1, Disp: disp}
}

func (s strided) advance(n int) { ADDQ(U32(uint32(n)), s.base) }

// storeHsums writes the horizontal sums of four float accumulators to out[0..3].
func storeHsums(acc []VecVirtual, out Register) {
	for t, a := range acc {
		h := hsum(a)
		VMOVSS(h, Mem{Base: out, Disp: 4 * t})
	}
}

func dotF16x4() {
	text("dotF16x4AVX2", NOSPLIT, "func(w *byte, x *float32, xs int, n int, out *float32)")
	Doc("dotF16x4AVX2 writes to out[t] the dot product of n F16 values at w with the n floats at x+t*xs bytes, t < 4; n is a multiple of 16.")
	w := Load(Param("w"), GP64())
	x := loadStrided("x", "xs")
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())
	var acc [8]VecVirtual
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	Label("loop")
	CMPQ(n, U8(16))
	JL(LabelRef("done"))
	w0, w1 := YMM(), YMM()
	VCVTPH2PS(Mem{Base: w}, w0)
	VCVTPH2PS(Mem{Base: w, Disp: 16}, w1)
	for t := range 4 {
		VFMADD231PS(x.at(t, 0), w0, acc[2*t])
		VFMADD231PS(x.at(t, 32), w1, acc[2*t+1])
	}
	ADDQ(U8(32), w)
	x.advance(64)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop"))
	Label("done")
	for t := range 4 {
		VADDPS(acc[2*t+1], acc[2*t], acc[2*t])
	}
	storeHsums([]VecVirtual{acc[0], acc[2], acc[4], acc[6]}, out)
	VZEROUPPER()
	RET()
}

// hsumI returns the horizontal sum of the 8 int32 lanes of y converted to float32, in the low
// lane of an XMM register.
func hsumI(y VecVirtual) Register {
	hi := XMM()
	VEXTRACTI128(U8(1), y, hi)
	lo := y.AsX()
	VPADDD(hi, lo, lo)
	VPHADDD(lo, lo, lo)
	VPHADDD(lo, lo, lo)
	VCVTDQ2PS(lo, lo)
	return lo
}

// f16 loads the F16 value at m as a float32 in the low lane of an XMM register.
func f16(m Mem) VecVirtual {
	r := GP32()
	MOVWLZX(m, r)
	x := XMM()
	VMOVD(r, x)
	VCVTPH2PS(x, x)
	return x
}

func dotQ4_Kx4() {
	text("dotQ4_Kx4AVX2", NOSPLIT, "func(w *byte, q *int8, qs int, d *float32, ds int, bsums *int16, bs int, nb int, out *float32)")
	Doc("dotQ4_Kx4AVX2 writes to out[t] the dot product of nb Q4_K super-blocks at w with the Q8_K activations of token t (q+t*qs, d+t*ds, bsums+t*bs bytes), t < 4.")
	w := Load(Param("w"), GP64())
	q := loadStrided("q", "qs")
	d := loadStrided("d", "ds")
	b := loadStrided("bsums", "bs")
	nb := Load(Param("nb"), GP64())
	out := Load(Param("out"), GP64())
	m4 := broadcastB(0x0F)
	for t := range 4 {
		z := XMM()
		VXORPS(z, z, z)
		VMOVSS(z, Mem{Base: out, Disp: 4 * t})
	}
	utmp := AllocLocal(16)
	Label("loop")
	TESTQ(nb, nb)
	JE(LabelRef("done"))
	{
		u0, u1, u2, u3, t := GP32(), GP32(), GP32(), GP32(), GP32()
		MOVL(Mem{Base: w, Disp: 4}, u0)
		MOVL(Mem{Base: w, Disp: 8}, u1)
		MOVL(Mem{Base: w, Disp: 12}, u2)
		MOVL(u2, u3)
		SHRL(U8(4), u3)
		ANDL(U32(0x0f0f0f0f), u3)
		MOVL(u1, t)
		SHRL(U8(6), t)
		ANDL(U32(0x03030303), t)
		SHLL(U8(4), t)
		ORL(t, u3)
		ANDL(U32(0x3f3f3f3f), u1)
		ANDL(U32(0x0f0f0f0f), u2)
		MOVL(u0, t)
		SHRL(U8(6), t)
		ANDL(U32(0x03030303), t)
		SHLL(U8(4), t)
		ORL(t, u2)
		ANDL(U32(0x3f3f3f3f), u0)
		MOVL(u0, utmp)
		MOVL(u2, utmp.Offset(4))
		MOVL(u1, utmp.Offset(8))
		MOVL(u3, utmp.Offset(12))
	}
	var sumi [4]VecVirtual
	for t := range 4 {
		sumi[t] = YMM()
		VPXOR(sumi[t], sumi[t], sumi[t])
	}
	for k := range 4 {
		raw := YMM()
		VMOVDQU(Mem{Base: w, Disp: 16 + 32*k}, raw)
		lo, hi := YMM(), YMM()
		VPAND(m4, raw, lo)
		VPSRLW(U8(4), raw, hi)
		VPAND(m4, hi, hi)
		for h, v := range []VecVirtual{lo, hi} {
			j := 2*k + h
			r := GP32()
			MOVBLZX(utmp.Offset(j), r)
			sx := XMM()
			VMOVD(r, sx)
			sc := YMM()
			VPBROADCASTW(sx, sc)
			for t := range 4 {
				p := YMM()
				VPMADDUBSW(q.at(t, 32*j), v, p)
				VPMADDWD(sc, p, p)
				VPADDD(p, sumi[t], sumi[t])
			}
		}
	}
	wd := f16(Mem{Base: w})
	wm := f16(Mem{Base: w, Disp: 2})
	mins := XMM()
	VPMOVZXBW(utmp.Offset(8), mins)
	for t := range 4 {
		// Minimum term of token t: sum_j m_j * (bsums[2j] + bsums[2j+1]).
		bsv := YMM()
		VMOVDQU(b.at(t, 0), bsv)
		bhi := XMM()
		VEXTRACTI128(U8(1), bsv, bhi)
		VPHADDW(bhi, bsv.AsX(), bhi)
		VPMADDWD(mins, bhi, bhi)
		VPHADDD(bhi, bhi, bhi)
		VPHADDD(bhi, bhi, bhi)
		VCVTDQ2PS(bhi, bhi)
		s := hsumI(sumi[t])
		// out[t] += dy * (d * sumi - dmin * summ)
		VMULSS(wd, s, s)
		VFNMADD231SS(wm, bhi, s)
		VMULSS(d.at(t, 0), s, s)
		VADDSS(Mem{Base: out, Disp: 4 * t}, s, s)
		VMOVSS(s, Mem{Base: out, Disp: 4 * t})
	}
	ADDQ(U32(144), w)
	q.advance(256)
	d.advance(4)
	b.advance(32)
	DECQ(nb)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

func dotQ6_Kx4() {
	text("dotQ6_Kx4AVX2", NOSPLIT, "func(w *byte, q *int8, qs int, d *float32, ds int, bsums *int16, bs int, nb int, out *float32)")
	Doc("dotQ6_Kx4AVX2 writes to out[t] the dot product of nb Q6_K super-blocks at w with the Q8_K activations of token t (q+t*qs, d+t*ds, bsums+t*bs bytes), t < 4.")
	w := Load(Param("w"), GP64())
	q := loadStrided("q", "qs")
	d := loadStrided("d", "ds")
	b := loadStrided("bsums", "bs")
	nb := Load(Param("nb"), GP64())
	out := Load(Param("out"), GP64())
	m4 := broadcastB(0x0F)
	m30 := broadcastB(0x30)
	for t := range 4 {
		z := XMM()
		VXORPS(z, z, z)
		VMOVSS(z, Mem{Base: out, Disp: 4 * t})
	}
	scs := AllocLocal(32)
	Label("loop")
	TESTQ(nb, nb)
	JE(LabelRef("done"))
	sc16 := YMM()
	VPMOVSXBW(Mem{Base: w, Disp: 192}, sc16)
	VMOVDQU(sc16, scs)
	var sumi [4]VecVirtual
	for t := range 4 {
		sumi[t] = YMM()
		VPMADDWD(b.at(t, 0), sc16, sumi[t])
		VPSLLD(U8(5), sumi[t], sumi[t])
		z := YMM()
		VPXOR(z, z, z)
		VPSUBD(sumi[t], z, sumi[t])
	}
	for n := range 2 {
		l0, l1, hb := YMM(), YMM(), YMM()
		VMOVDQU(Mem{Base: w, Disp: 64 * n}, l0)
		VMOVDQU(Mem{Base: w, Disp: 64*n + 32}, l1)
		VMOVDQU(Mem{Base: w, Disp: 128 + 32*n}, hb)
		for g := range 4 {
			v, h := YMM(), YMM()
			src := l0
			if g%2 == 1 {
				src = l1
			}
			if g < 2 {
				VPAND(m4, src, v)
			} else {
				VPSRLW(U8(4), src, v)
				VPAND(m4, v, v)
			}
			switch g {
			case 0:
				VPSLLW(U8(4), hb, h)
			case 1:
				VPSLLW(U8(2), hb, h)
			case 2:
				VMOVDQA(hb, h)
			case 3:
				VPSRLW(U8(2), hb, h)
			}
			VPAND(m30, h, h)
			VPOR(h, v, v)
			idx := 8*n + 2*g
			sa, sb := XMM(), XMM()
			VPBROADCASTW(scs.Offset(2*idx), sa)
			VPBROADCASTW(scs.Offset(2*idx+2), sb)
			sv := YMM()
			VINSERTI128(U8(1), sb, sa.AsY(), sv)
			for t := range 4 {
				p := YMM()
				VPMADDUBSW(q.at(t, 128*n+32*g), v, p)
				VPMADDWD(sv, p, p)
				VPADDD(p, sumi[t], sumi[t])
			}
		}
	}
	wd := f16(Mem{Base: w, Disp: 208})
	for t := range 4 {
		s := hsumI(sumi[t])
		VMULSS(wd, s, s)
		VMULSS(d.at(t, 0), s, s)
		VADDSS(Mem{Base: out, Disp: 4 * t}, s, s)
		VMOVSS(s, Mem{Base: out, Disp: 4 * t})
	}
	ADDQ(U32(210), w)
	q.advance(256)
	d.advance(4)
	b.advance(32)
	DECQ(nb)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// suffix names the one- and four-token variants of a kernel.
func suffix(T int) string {
	if T == 1 {
		return "x1AVX2"
	}
	return "x4AVX2"
}

// nibbles32 loads the 16 bytes at m and returns their 32 nibbles as bytes: low nibbles in
// bytes 0..15, high nibbles in bytes 16..31 (the Q4_0 layout).
func nibbles32(m Mem, m4 Mem) VecVirtual {
	lo := XMM()
	VMOVDQU(m, lo)
	hi := XMM()
	VPSRLW(U8(4), lo, hi)
	v := YMM()
	VINSERTI128(U8(1), hi, lo.AsY(), v)
	VPAND(m4, v, v)
	return v
}

// bitsMask expands the 32 bits of the little-endian word at m into 32 bytes, 0xFF where the
// bit is set (ggml's bytes_from_bits_32), with constants read from memory.
func bitsMask(m Mem) VecVirtual {
	r := GP32()
	MOVL(m, r)
	x := XMM()
	VMOVD(r, x)
	v := YMM()
	VPBROADCASTD(x, v)
	VPSHUFB(bitsShuffle, v, v)
	VPOR(bitsSelect, v, v)
	VPCMPEQB(allOnes, v, v)
	return v
}

var bitsShuffle, bitsSelect, allOnes, iq4nlTable Mem

// constants emits the tables the kernels read.
func constants() {
	bitsShuffle = GLOBL("bitsShuffle", RODATA|NOPTR)
	for i := range 32 {
		DATA(i, U8(uint8(i/8)))
	}
	bitsSelect = GLOBL("bitsSelect", RODATA|NOPTR)
	for i := range 4 {
		DATA(8*i, U64(0x7fbfdfeff7fbfdfe))
	}
	allOnes = GLOBL("allOnes", RODATA|NOPTR)
	for i := range 4 {
		DATA(8*i, U64(0xffffffffffffffff))
	}
	iq4nlTable = GLOBL("iq4nlTable", RODATA|NOPTR)
	for i, v := range []int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113} {
		DATA(i, U8(uint8(v)))
	}
}

// block32 generates a T-token kernel for a 32-value block type multiplied with Q8 activations.
// load returns the block's 32 weight values as bytes, signed unless unsigned is set; with
// minOff >= 0 the block has an F16 minimum at that offset, whose term m * d_t * s_t uses the
// activations' block sums.
func block32(name string, T, blockBytes int, unsigned bool, minOff int, setup func() func(w Register) VecVirtual) {
	text(name, NOSPLIT, "func(w *byte, q *int8, qs int, d *float32, ds int, s *int16, ss int, nb int, out *float32)")
	Doc(fmt.Sprintf("%s writes to out[t] the dot product of nb blocks at w with the Q8 activations of token t (q+t*qs, d+t*ds, s+t*ss bytes), t < %d.", name, T))
	w := Load(Param("w"), GP64())
	q := loadStrided("q", "qs")
	d := loadStrided("d", "ds")
	var sm strided
	if minOff >= 0 {
		sm = loadStrided("s", "ss")
	}
	nb := Load(Param("nb"), GP64())
	out := Load(Param("out"), GP64())
	ones := broadcastW(1)
	load := setup()
	acc := make([]VecVirtual, T)
	for t := range T {
		acc[t] = YMM()
		VXORPS(acc[t], acc[t], acc[t])
		z := XMM()
		VXORPS(z, z, z)
		VMOVSS(z, Mem{Base: out, Disp: 4 * t})
	}
	Label(name + "_loop")
	TESTQ(nb, nb)
	JE(LabelRef(name + "_done"))
	wv := load(w)
	var ax VecVirtual
	if !unsigned {
		ax = YMM()
		VPSIGNB(wv, wv, ax)
	}
	wd := f16(Mem{Base: w})
	var wm VecVirtual
	if minOff >= 0 {
		wm = f16(Mem{Base: w, Disp: minOff})
	}
	for t := range T {
		p := YMM()
		if unsigned {
			VPMADDUBSW(q.at(t, 0), wv, p)
		} else {
			sy := YMM()
			VMOVDQU(q.at(t, 0), sy)
			VPSIGNB(wv, sy, sy)
			VPMADDUBSW(sy, ax, p)
		}
		VPMADDWD(ones, p, p)
		VCVTDQ2PS(p, p)
		dt := XMM()
		VMOVSS(d.at(t, 0), dt)
		sx := XMM()
		VMULSS(dt, wd, sx)
		sc := YMM()
		VBROADCASTSS(sx, sc)
		VFMADD231PS(p, sc, acc[t])
		if minOff >= 0 {
			// out[t] += m * d_t * s_t
			r := GP32()
			MOVWLSX(sm.at(t, 0), r)
			sf := XMM()
			VCVTSI2SSL(r, sf, sf)
			VMULSS(dt, sf, sf)
			VMULSS(wm, sf, sf)
			VADDSS(Mem{Base: out, Disp: 4 * t}, sf, sf)
			VMOVSS(sf, Mem{Base: out, Disp: 4 * t})
		}
	}
	ADDQ(U8(uint8(blockBytes)), w)
	q.advance(32)
	d.advance(4)
	if minOff >= 0 {
		sm.advance(2)
	}
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	for t := range T {
		h := hsum(acc[t])
		VADDSS(Mem{Base: out, Disp: 4 * t}, h, h)
		VMOVSS(h, Mem{Base: out, Disp: 4 * t})
	}
	VZEROUPPER()
	RET()
}

func dotQ4_1(T int) {
	block32("dotQ4_1"+suffix(T), T, 20, true, 2, func() func(w Register) VecVirtual {
		m4 := broadcastB(0x0F)
		return func(w Register) VecVirtual { return nibbles32(Mem{Base: w, Disp: 4}, m4) }
	})
}

func dotQ5_0(T int) {
	block32("dotQ5_0"+suffix(T), T, 22, false, -1, func() func(w Register) VecVirtual {
		m4 := broadcastB(0x0F)
		f0 := broadcastB(0xF0)
		return func(w Register) VecVirtual {
			v := nibbles32(Mem{Base: w, Disp: 6}, m4)
			h := bitsMask(Mem{Base: w, Disp: 2})
			VPANDN(f0, h, h) // 0xF0 where the fifth bit is clear: q - 16
			VPOR(h, v, v)
			return v
		}
	})
}

func dotQ5_1(T int) {
	block32("dotQ5_1"+suffix(T), T, 24, true, 2, func() func(w Register) VecVirtual {
		m4 := broadcastB(0x0F)
		b10 := broadcastB(0x10)
		return func(w Register) VecVirtual {
			v := nibbles32(Mem{Base: w, Disp: 8}, m4)
			h := bitsMask(Mem{Base: w, Disp: 4})
			VPAND(b10, h, h)
			VPOR(h, v, v)
			return v
		}
	})
}

func dotIQ4_NL(T int) {
	block32("dotIQ4_NL"+suffix(T), T, 18, false, -1, func() func(w Register) VecVirtual {
		m4 := broadcastB(0x0F)
		tab := YMM()
		VBROADCASTI128(iq4nlTable, tab)
		return func(w Register) VecVirtual {
			v := nibbles32(Mem{Base: w, Disp: 2}, m4)
			VPSHUFB(v, tab, v)
			return v
		}
	})
}

// text declares a kernel with TEXT and marks it //go:noescape: no kernel keeps a pointer it
// is given, and without the pragma every array whose address a wrapper passes (the outputs of
// the small kernels) would be moved to the heap.
func text(name string, a attr.Attribute, signature string) {
	TEXT(name, a, signature)
	Pragma("noescape")
}
