package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels: the float32 and F16 dot products and axpy on 512-bit registers. The
// integer kernels stay AVX2 (avo has no VNNI instructions).

// hsumZ returns the horizontal sum of the 16 floats of z in the low lane of an XMM register.
func hsumZ(z VecVirtual) Register {
	hi := YMM()
	VEXTRACTF64X4(U8(1), z, hi)
	lo := z.AsY()
	VADDPS(hi, lo, lo)
	h := XMM()
	VEXTRACTF128(U8(1), lo, h)
	x := lo.(VecVirtual).AsX()
	VADDPS(h, x, x)
	VHADDPS(x, x, x)
	VHADDPS(x, x, x)
	return x
}

func dotF32AVX512() {
	text("dotF32AVX512", NOSPLIT, "func(x, y *float32, n int) float32")
	Doc("dotF32AVX512 returns the dot product of n floats at x and y; n is a multiple of 64.")
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	acc := [4]VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	Label("dotF32AVX512_loop")
	CMPQ(n, U8(64))
	JL(LabelRef("dotF32AVX512_done"))
	for i, a := range acc {
		v := ZMM()
		VMOVUPS(Mem{Base: x, Disp: 64 * i}, v)
		VFMADD231PS(Mem{Base: y, Disp: 64 * i}, v, a)
	}
	ADDQ(U32(256), x)
	ADDQ(U32(256), y)
	SUBQ(U8(64), n)
	JMP(LabelRef("dotF32AVX512_loop"))
	Label("dotF32AVX512_done")
	VADDPS(acc[2], acc[0], acc[0])
	VADDPS(acc[3], acc[1], acc[1])
	VADDPS(acc[1], acc[0], acc[0])
	s := hsumZ(acc[0])
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

func axpyF32AVX512() {
	text("axpyF32AVX512", NOSPLIT, "func(a float32, x, y *float32, n int)")
	Doc("axpyF32AVX512 adds a times the n floats at x to those at y; n is a multiple of 32.")
	ax := XMM()
	VMOVSS(NewParamAddr("a", 0), ax)
	a := ZMM()
	VBROADCASTSS(ax, a)
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	Label("axpyF32AVX512_loop")
	CMPQ(n, U8(32))
	JL(LabelRef("axpyF32AVX512_done"))
	for i := range 2 {
		v := ZMM()
		VMOVUPS(Mem{Base: y, Disp: 64 * i}, v)
		VFMADD231PS(Mem{Base: x, Disp: 64 * i}, a, v)
		VMOVUPS(v, Mem{Base: y, Disp: 64 * i})
	}
	ADDQ(U8(128), x)
	ADDQ(U8(128), y)
	SUBQ(U8(32), n)
	JMP(LabelRef("axpyF32AVX512_loop"))
	Label("axpyF32AVX512_done")
	VZEROUPPER()
	RET()
}

func dotF16AVX512() {
	text("dotF16AVX512", NOSPLIT, "func(w *byte, x *float32, n int) float32")
	Doc("dotF16AVX512 returns the dot product of n F16 values at w with n floats at x; n is a multiple of 64.")
	w := Load(Param("w"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	acc := [4]VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	Label("dotF16AVX512_loop")
	CMPQ(n, U8(64))
	JL(LabelRef("dotF16AVX512_done"))
	for i, a := range acc {
		v := ZMM()
		VCVTPH2PS(Mem{Base: w, Disp: 32 * i}, v)
		VFMADD231PS(Mem{Base: x, Disp: 64 * i}, v, a)
	}
	ADDQ(U8(128), w)
	ADDQ(U32(256), x)
	SUBQ(U8(64), n)
	JMP(LabelRef("dotF16AVX512_loop"))
	Label("dotF16AVX512_done")
	VADDPS(acc[2], acc[0], acc[0])
	VADDPS(acc[3], acc[1], acc[1])
	VADDPS(acc[1], acc[0], acc[0])
	s := hsumZ(acc[0])
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

func dotF16x4AVX512() {
	text("dotF16x4AVX512", NOSPLIT, "func(w *byte, x *float32, xs int, n int, out *float32)")
	Doc("dotF16x4AVX512 writes to out[t] the dot product of n F16 values at w with the n floats at x+t*xs bytes, t < 4; n is a multiple of 32.")
	w := Load(Param("w"), GP64())
	x := loadStrided("x", "xs")
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())
	var acc [8]VecVirtual
	for i := range acc {
		acc[i] = ZMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	Label("dotF16x4AVX512_loop")
	CMPQ(n, U8(32))
	JL(LabelRef("dotF16x4AVX512_done"))
	w0, w1 := ZMM(), ZMM()
	VCVTPH2PS(Mem{Base: w}, w0)
	VCVTPH2PS(Mem{Base: w, Disp: 32}, w1)
	for t := range 4 {
		VFMADD231PS(x.at(t, 0), w0, acc[2*t])
		VFMADD231PS(x.at(t, 64), w1, acc[2*t+1])
	}
	ADDQ(U8(64), w)
	x.advance(128)
	SUBQ(U8(32), n)
	JMP(LabelRef("dotF16x4AVX512_loop"))
	Label("dotF16x4AVX512_done")
	for t := range 4 {
		VADDPS(acc[2*t+1], acc[2*t], acc[2*t])
		h := hsumZ(acc[2*t])
		VMOVSS(h, Mem{Base: out, Disp: 4 * t})
	}
	VZEROUPPER()
	RET()
}
