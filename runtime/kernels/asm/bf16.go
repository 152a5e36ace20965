package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// bf16Load widens 8 BF16 values at m to float32: zero-extend to 32 bits, shift into the high
// half.
func bf16Load(m Mem) VecVirtual {
	v := YMM()
	VPMOVZXWD(m, v)
	VPSLLD(U8(16), v, v)
	return v
}

func dotBF16() {
	text("dotBF16AVX2", NOSPLIT, "func(w *byte, x *float32, n int) float32")
	Doc("dotBF16AVX2 returns the dot product of n BF16 values at w with n floats at x; n is a multiple of 32.")
	w := Load(Param("w"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	acc := [4]VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	Label("dotBF16AVX2_loop")
	CMPQ(n, U8(32))
	JL(LabelRef("dotBF16AVX2_done"))
	for i, a := range acc {
		v := bf16Load(Mem{Base: w, Disp: 16 * i})
		VFMADD231PS(Mem{Base: x, Disp: 32 * i}, v, a)
	}
	ADDQ(U8(64), w)
	ADDQ(U8(128), x)
	SUBQ(U8(32), n)
	JMP(LabelRef("dotBF16AVX2_loop"))
	Label("dotBF16AVX2_done")
	VADDPS(acc[2], acc[0], acc[0])
	VADDPS(acc[3], acc[1], acc[1])
	VADDPS(acc[1], acc[0], acc[0])
	s := hsum(acc[0])
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

func dotBF16x4() {
	text("dotBF16x4AVX2", NOSPLIT, "func(w *byte, x *float32, xs int, n int, out *float32)")
	Doc("dotBF16x4AVX2 writes to out[t] the dot product of n BF16 values at w with the n floats at x+t*xs bytes, t < 4; n is a multiple of 16.")
	w := Load(Param("w"), GP64())
	x := loadStrided("x", "xs")
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())
	var acc [8]VecVirtual
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	Label("dotBF16x4AVX2_loop")
	CMPQ(n, U8(16))
	JL(LabelRef("dotBF16x4AVX2_done"))
	w0 := bf16Load(Mem{Base: w})
	w1 := bf16Load(Mem{Base: w, Disp: 16})
	for t := range 4 {
		VFMADD231PS(x.at(t, 0), w0, acc[2*t])
		VFMADD231PS(x.at(t, 32), w1, acc[2*t+1])
	}
	ADDQ(U8(32), w)
	x.advance(64)
	SUBQ(U8(16), n)
	JMP(LabelRef("dotBF16x4AVX2_loop"))
	Label("dotBF16x4AVX2_done")
	for t := range 4 {
		VADDPS(acc[2*t+1], acc[2*t], acc[2*t])
	}
	storeHsums([]VecVirtual{acc[0], acc[2], acc[4], acc[6]}, out)
	VZEROUPPER()
	RET()
}
