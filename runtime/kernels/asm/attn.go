package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels of attention and the elementwise functions: small float32 matrix
// products (scores Q·Kᵀ and the weighted sum P·V), the softmax of one row and SwiGLU.

// gemmF32 emits a kernel storing into the mr×(16·nv) block of C the product of A (mr rows of k
// floats, lda bytes apart) and B (k rows of 16·nv floats, ldb bytes apart): each element is
// one sequential fused multiply-add chain over k, A's values broadcast from memory.
func gemmF32(mr, nv int) {
	name := fmt.Sprintf("gemmF32x%dx%dAVX512", mr, 16*nv)
	text(name, NOSPLIT, "func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)")
	Doc(fmt.Sprintf("%s stores into the %dx%d block at c (rows ldc bytes apart) the product of a (%d rows of k floats, lda bytes apart) and b (k rows, ldb bytes apart).", name, mr, 16*nv, mr))
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	lda3 := GP64()
	LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	var a4 Register
	if mr > 4 {
		a4 = GP64()
		LEAQ(Mem{Base: a, Index: lda, Scale: 4}, a4)
	}
	rowAt := func(r int) Mem {
		base := a
		if r >= 4 {
			base, r = a4, r-4
		}
		switch r {
		case 0:
			return Mem{Base: base}
		case 1:
			return Mem{Base: base, Index: lda, Scale: 1}
		case 2:
			return Mem{Base: base, Index: lda, Scale: 2}
		}
		return Mem{Base: base, Index: lda3, Scale: 1}
	}
	acc := make([][]VecVirtual, mr)
	for r := range acc {
		acc[r] = make([]VecVirtual, nv)
		for v := range acc[r] {
			acc[r][v] = ZMM()
			VXORPS(acc[r][v], acc[r][v], acc[r][v])
		}
	}
	Label(name + "_loop")
	TESTQ(k, k)
	JE(LabelRef(name + "_done"))
	bv := make([]VecVirtual, nv)
	for v := range bv {
		bv[v] = ZMM()
		VMOVUPS(Mem{Base: b, Disp: 64 * v}, bv[v])
	}
	for r := range mr {
		for v := range nv {
			VFMADD231PS_BCST(rowAt(r), bv[v], acc[r][v])
		}
	}
	ADDQ(U8(4), a)
	if mr > 4 {
		ADDQ(U8(4), a4)
	}
	ADDQ(ldb, b)
	DECQ(k)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	for r := range mr {
		for v := range nv {
			VMOVUPS(acc[r][v], Mem{Base: c, Disp: 64 * v})
		}
		if r < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// f32Const returns a ZMM holding v in every lane.
func f32Const(v float32) VecVirtual {
	g := GP32()
	MOVL(U32(math.Float32bits(v)), g)
	z := ZMM()
	VPBROADCASTD(g, z)
	return z
}

// expConsts are the constants of expZ, kept in registers.
type expConsts struct {
	lo, hi, log2e, c1, c2, one VecVirtual
	p                          [6]VecVirtual
}

// The exponential: x clamped to [expLo, expHi], n = round(x·log2 e), r = x − n·ln 2 (ln 2 in
// two parts), e^r from Cephes' degree-7 polynomial (relative error about 1e-7), scaled by 2^n
// with VSCALEFPS (which gives 0 below the range and +Inf above). The pure-Go twin is expf32.
const (
	expLo = -104
	expHi = 88.7
)

var expPoly = [6]float32{1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1}

func newExpConsts() expConsts {
	e := expConsts{
		lo: f32Const(expLo), hi: f32Const(expHi), log2e: f32Const(1.44269504088896341),
		c1: f32Const(0.693359375), c2: f32Const(-2.12194440e-4), one: f32Const(1),
	}
	for i, v := range expPoly {
		e.p[i] = f32Const(v)
	}
	return e
}

// expZ replaces the 16 floats of x with their exponentials.
func expZ(e expConsts, x VecVirtual) {
	VMAXPS(e.lo, x, x)
	VMINPS(e.hi, x, x)
	k := ZMM()
	VMULPS(e.log2e, x, k)
	VRNDSCALEPS(U8(0), k, k)
	VFNMADD231PS(e.c1, k, x)
	VFNMADD231PS(e.c2, k, x)
	p := ZMM()
	VMOVAPS(e.p[0], p)
	for _, c := range e.p[1:] {
		VFMADD213PS(c, x, p)
	}
	r2 := ZMM()
	VMULPS(x, x, r2)
	VFMADD213PS(x, r2, p)
	VADDPS(e.one, p, p)
	VSCALEFPS(k, p, x)
}

// tailMask sets k to the low n&15 bits (n in a general register, clobbered).
func tailMask(n Register, k Op) {
	c := GP64()
	MOVQ(n, c)
	ANDQ(U8(15), c)
	m := GP32()
	MOVL(U32(1), m)
	SHLXL(c.As32(), m, m)
	DECL(m)
	KMOVW(m, k)
}

func softmaxRow() {
	name := "softmaxAVX512"
	text(name, NOSPLIT, "func(x *float32, n int) float32")
	Doc(name + " replaces the n floats at x (n ≥ 1) with exp(x − max x) and returns their sum.")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	tail := K()
	tailMask(n, tail)
	full := GP64()
	MOVQ(n, full)
	SHRQ(U8(4), full)
	// Pass 1: maximum, the tail read over -Inf.
	ninf := f32Const(float32(math.Inf(-1)))
	m := ZMM()
	VMOVAPS(ninf, m)
	p, i := GP64(), GP64()
	MOVQ(x, p)
	MOVQ(full, i)
	Label(name + "_max")
	TESTQ(i, i)
	JE(LabelRef(name + "_maxtail"))
	VMAXPS(Mem{Base: p}, m, m)
	ADDQ(U8(64), p)
	DECQ(i)
	JMP(LabelRef(name + "_max"))
	Label(name + "_maxtail")
	t := ZMM()
	VMOVAPS(ninf, t)
	VMOVUPS(Mem{Base: p}, tail, t)
	VMAXPS(t, m, m)
	// Reduce to one lane and broadcast.
	y := YMM()
	VEXTRACTF64X4(U8(1), m, y)
	VMAXPS(m.AsY(), y, y)
	xm := XMM()
	VEXTRACTF32X4(U8(1), y, xm)
	VMAXPS(y.AsX(), xm, xm)
	s := XMM()
	VPERMILPS(U8(0x4E), xm, s)
	VMAXPS(s, xm, xm)
	VPERMILPS(U8(0xB1), xm, s)
	VMAXPS(s, xm, xm)
	mx := ZMM()
	VBROADCASTSS(xm, mx)
	// Pass 2: exponentials and their sum.
	e := newExpConsts()
	sum := ZMM()
	VXORPS(sum, sum, sum)
	Label(name + "_exp")
	TESTQ(full, full)
	JE(LabelRef(name + "_exptail"))
	v := ZMM()
	VMOVUPS(Mem{Base: x}, v)
	VSUBPS(mx, v, v)
	expZ(e, v)
	VMOVUPS(v, Mem{Base: x})
	VADDPS(v, sum, sum)
	ADDQ(U8(64), x)
	DECQ(full)
	JMP(LabelRef(name + "_exp"))
	Label(name + "_exptail")
	w := ZMM()
	VMOVUPS_Z(Mem{Base: x}, tail, w)
	VSUBPS(mx, w, w)
	expZ(e, w)
	VMOVUPS(w, tail, Mem{Base: x})
	VADDPS(w, sum, tail, sum)
	r := hsumZ32(sum)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func swiglu() {
	name := "swigluAVX512"
	text(name, NOSPLIT, "func(gate *float32, up *float32, n int)")
	Doc(name + " replaces the n floats at gate with gate/(1+exp(−gate))·up.")
	g := Load(Param("gate"), GP64())
	u := Load(Param("up"), GP64())
	n := Load(Param("n"), GP64())
	tail := K()
	tailMask(n, tail)
	SHRQ(U8(4), n)
	e := newExpConsts()
	neg := f32Const(float32(math.Copysign(0, -1)))
	body := func(gv, uv VecVirtual) {
		x := ZMM()
		VXORPS(neg, gv, x)
		expZ(e, x)
		VADDPS(e.one, x, x)
		VDIVPS(x, gv, gv)
		VMULPS(uv, gv, gv)
	}
	Label(name + "_loop")
	TESTQ(n, n)
	JE(LabelRef(name + "_tail"))
	gv, uv := ZMM(), ZMM()
	VMOVUPS(Mem{Base: g}, gv)
	VMOVUPS(Mem{Base: u}, uv)
	body(gv, uv)
	VMOVUPS(gv, Mem{Base: g})
	ADDQ(U8(64), g)
	ADDQ(U8(64), u)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_tail")
	gt, ut := ZMM(), ZMM()
	VMOVUPS_Z(Mem{Base: g}, tail, gt)
	VMOVUPS_Z(Mem{Base: u}, tail, ut)
	body(gt, ut)
	VMOVUPS(gt, tail, Mem{Base: g})
	VZEROUPPER()
	RET()
}
