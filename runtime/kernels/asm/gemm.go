package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 tile kernels for prompt processing: each multiplies a tile of four weight rows
// with four tokens' activations, so every weight vector is loaded (and converted) once for four
// tokens and every activation vector once for four rows; the sixteen sums stay in registers
// until the end of the row.

// rows4 addresses four rows base, base+stride, base+2*stride and base+3*stride.
type rows4 struct{ base, stride, base3 Register }

func loadRows4(base, stride string) rows4 {
	r := rows4{Load(Param(base), GP64()), Load(Param(stride), GP64()), GP64()}
	LEAQ(Mem{Base: r.base, Index: r.stride, Scale: 2}, r.base3)
	ADDQ(r.stride, r.base3)
	return r
}

func (r rows4) at(i, disp int) Mem {
	switch i {
	case 0:
		return Mem{Base: r.base, Disp: disp}
	case 1:
		return Mem{Base: r.base, Index: r.stride, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: r.base, Index: r.stride, Scale: 2, Disp: disp}
	}
	return Mem{Base: r.base3, Disp: disp}
}

func (r rows4) advance(n int) {
	ADDQ(U32(uint32(n)), r.base)
	ADDQ(U32(uint32(n)), r.base3)
}

// hsumZ32 returns the horizontal sum of the 16 floats of z in the low lane of an XMM register,
// with EVEX-encodable instructions only (the VEX forms cannot name registers 16 to 31).
func hsumZ32(z VecVirtual) VecVirtual {
	hi := YMM()
	VEXTRACTF64X4(U8(1), z, hi)
	VADDPS(z.AsY(), hi, hi)
	h := XMM()
	VEXTRACTF32X4(U8(1), hi, h)
	VADDPS(hi.AsX(), h, h)
	s := XMM()
	VPERMILPS(U8(0x4E), h, s)
	VADDPS(s, h, h)
	VPERMILPS(U8(0xB1), h, s)
	VADDPS(s, h, h)
	return h
}

// storeTile4x4 writes the horizontal sums of acc[r][t] to out + t*os + 4*r.
func storeTile4x4(acc [4][4]VecVirtual, out, os Register) {
	for t := range 4 {
		for r := range 4 {
			h := hsumZ32(acc[r][t])
			VMOVSS(h, Mem{Base: out, Disp: 4 * r})
		}
		if t < 3 {
			ADDQ(os, out)
		}
	}
}

func gemmF16x4x4() {
	name := "gemmF16x4x4AVX512"
	text(name, NOSPLIT, "func(w *byte, ws int, x *float32, xs int, n int, out *float32, os int)")
	Doc(name + " writes to out[t*os+4*r bytes] the dot product of n F16 values at w+r*ws with the n floats at x+t*xs, for rows r < 4 and tokens t < 4; n is a multiple of 16.")
	w := loadRows4("w", "ws")
	x := loadRows4("x", "xs")
	n := Load(Param("n"), GP64())
	var acc [4][4]VecVirtual
	for r := range 4 {
		for t := range 4 {
			acc[r][t] = ZMM()
			VXORPS(acc[r][t], acc[r][t], acc[r][t])
		}
	}
	Label(name + "_loop")
	CMPQ(n, U8(16))
	JL(LabelRef(name + "_done"))
	var wv [4]VecVirtual
	for r := range 4 {
		wv[r] = ZMM()
		VCVTPH2PS(w.at(r, 0), wv[r])
	}
	for t := range 4 {
		xv := ZMM()
		VMOVUPS(x.at(t, 0), xv)
		for r := range 4 {
			VFMADD231PS(xv, wv[r], acc[r][t])
		}
	}
	w.advance(32)
	x.advance(64)
	SUBQ(U8(16), n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	out := Load(Param("out"), GP64())
	os := Load(Param("os"), GP64())
	storeTile4x4(acc, out, os)
	VZEROUPPER()
	RET()
}
