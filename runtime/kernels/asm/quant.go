package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 activation quantizers, bit-exact twins of QuantizeQ8 and QuantizeQ8K: scale
// d = max|x|/127, q = x·(1/d) rounded half away from zero (truncation of x·(1/d) plus the
// float just below 0.5 with x's sign, exact for |q| < 2^22), and the sums of q.

// hmaxZ returns the maximum of the 16 floats of z in the low lane of an XMM register.
func hmaxZ(z VecVirtual) VecVirtual {
	y := YMM()
	VEXTRACTF64X4(U8(1), z, y)
	VMAXPS(z.AsY(), y, y)
	x := XMM()
	VEXTRACTF32X4(U8(1), y, x)
	VMAXPS(y.AsX(), x, x)
	s := XMM()
	VPERMILPS(U8(0x4E), x, s)
	VMAXPS(s, x, x)
	VPERMILPS(U8(0xB1), x, s)
	VMAXPS(s, x, x)
	return x
}

// storeHsumD stores the sum of the 16 int32 lanes of z as an int16 at m.
func storeHsumD(z VecVirtual, m Mem) {
	y := YMM()
	VEXTRACTI64X4(U8(1), z, y)
	VPADDD(z.AsY(), y, y)
	x := XMM()
	VEXTRACTI32X4(U8(1), y, x)
	VPADDD(y.AsX(), x, x)
	s := XMM()
	VPSHUFD(U8(0x4E), x, s)
	VPADDD(s, x, x)
	VPSHUFD(U8(0xB1), x, s)
	VPADDD(s, x, x)
	g := GP32()
	VMOVD(x, g)
	MOVW(g.As16(), m)
}

// i32Const returns a ZMM holding the 32-bit word v in every lane.
func i32Const(v uint32) VecVirtual {
	g := GP32()
	MOVL(U32(v), g)
	z := ZMM()
	VPBROADCASTD(g, z)
	return z
}

type quantConsts struct{ abs, sign, half, lo, hi VecVirtual }

func newQuantConsts() quantConsts {
	return quantConsts{
		abs: i32Const(0x7fffffff), sign: i32Const(0x80000000),
		half: i32Const(0x3effffff), // 0.49999997
		lo:   i32Const(0xffffff81), // -127
		hi:   i32Const(127),
	}
}

// quantBlock quantizes the nz vectors of 16 floats at x to bytes at q with the scale of their
// largest magnitude, which it stores at d, and returns the int32 vectors of q.
func quantBlock(c quantConsts, label string, x, q, d Register, nz int) []VecVirtual {
	m := ZMM()
	VANDPS(Mem{Base: x}, c.abs, m)
	for i := 1; i < nz; i++ {
		t := ZMM()
		VANDPS(Mem{Base: x, Disp: 64 * i}, c.abs, t)
		VMAXPS(t, m, m)
	}
	amax := hmaxZ(m)
	g := GP32()
	MOVL(U32(math.Float32bits(127)), g)
	k := XMM()
	VMOVD(g, k)
	dd := XMM()
	VDIVSS(k, amax, dd)
	VMOVSS(dd, Mem{Base: d})
	id := XMM()
	VXORPS(id, id, id)
	VUCOMISS(id, dd)
	JE(LabelRef(label))
	MOVL(U32(math.Float32bits(1)), g)
	VMOVD(g, id)
	VDIVSS(dd, id, id)
	Label(label)
	idz := ZMM()
	VBROADCASTSS(id, idz)
	out := make([]VecVirtual, nz)
	for i := range nz {
		v := ZMM()
		VMULPS(Mem{Base: x, Disp: 64 * i}, idz, v)
		h := ZMM()
		VANDPS(c.sign, v, h)
		VORPS(c.half, h, h)
		VADDPS(h, v, v)
		VCVTTPS2DQ(v, v)
		VPMAXSD(c.lo, v, v)
		VPMINSD(c.hi, v, v)
		VPMOVDB(v, Mem{Base: q, Disp: 16 * i})
		out[i] = v
	}
	return out
}

func quantQ8() {
	name := "quantQ8AVX512"
	text(name, NOSPLIT, "func(q *int8, d *float32, s *int16, x *float32, nb int)")
	Doc(name + " quantizes nb blocks of 32 floats at x as QuantizeQ8 does.")
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	s := Load(Param("s"), GP64())
	x := Load(Param("x"), GP64())
	nb := Load(Param("nb"), GP64())
	c := newQuantConsts()
	Label(name + "_loop")
	TESTQ(nb, nb)
	JE(LabelRef(name + "_done"))
	v := quantBlock(c, name+"_scaled", x, q, d, 2)
	VPADDD(v[1], v[0], v[0])
	storeHsumD(v[0], Mem{Base: s})
	ADDQ(U8(128), x)
	ADDQ(U8(32), q)
	ADDQ(U8(4), d)
	ADDQ(U8(2), s)
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

func quantQ8K() {
	name := "quantQ8KAVX512"
	text(name, NOSPLIT, "func(q *int8, d *float32, s *int16, x *float32, nb int)")
	Doc(name + " quantizes nb blocks of 256 floats at x as QuantizeQ8K does.")
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	s := Load(Param("s"), GP64())
	x := Load(Param("x"), GP64())
	nb := Load(Param("nb"), GP64())
	c := newQuantConsts()
	Label(name + "_loop")
	TESTQ(nb, nb)
	JE(LabelRef(name + "_done"))
	v := quantBlock(c, name+"_scaled", x, q, d, 16)
	for i, z := range v {
		storeHsumD(z, Mem{Base: s, Disp: 2 * i})
	}
	ADDQ(U32(1024), x)
	ADDQ(U32(256), q)
	ADDQ(U8(4), d)
	ADDQ(U8(32), s)
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
