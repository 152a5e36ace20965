package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The one- and four-token AVX2 kernels of Q8_0 and Q4_0 evaluate the same expression as the
// 16-token kernel, so that a token's result does not depend on the batch it came in: the
// exact integer sum s_b of each block's products, then four chains c_k = fma(s_b, d_b·dy_b,
// c_k) over the blocks b ≡ k (mod 4). The kernels run the chains over the first nb4·4 blocks
// and store them; Go finishes the last blocks and adds (c0+c1)+(c2+c3).

// b32Loader returns the 32 signed weights of the block at w+disp.
type b32Loader func(w Register, disp int) VecVirtual

func q8_0Loader() b32Loader {
	return func(w Register, disp int) VecVirtual {
		v := YMM()
		VMOVDQU(Mem{Base: w, Disp: disp + 2}, v)
		return v
	}
}

func q4_0Loader() b32Loader {
	m4 := broadcastB(0x0F)
	eight := broadcastB(8)
	return func(w Register, disp int) VecVirtual {
		v := nibbles32(Mem{Base: w, Disp: disp + 2}, m4)
		VPSUBB(eight, v, v)
		return v
	}
}

// blockSums4 reduces four vectors of 8 int32 partial sums to their four totals in an XMM.
func blockSums4(p [4]VecVirtual) VecVirtual {
	a, b := YMM(), YMM()
	VPHADDD(p[1], p[0], a)
	VPHADDD(p[3], p[2], b)
	VPHADDD(b, a, a)
	h := XMM()
	VEXTRACTI128(U8(1), a, h)
	VPADDD(a.AsX(), h, h)
	VCVTDQ2PS(h, h)
	return h
}

// scales4 returns the four F16 block scales at w, w+bb, w+2bb, w+3bb as float32 in an XMM.
func scales4(w Register, bb int) VecVirtual {
	acc := GP64()
	MOVWQZX(Mem{Base: w}, acc)
	for k := 1; k < 4; k++ {
		t := GP64()
		MOVWQZX(Mem{Base: w, Disp: k * bb}, t)
		SHLQ(U8(uint8(16*k)), t)
		ORQ(t, acc)
	}
	y := XMM()
	VMOVQ(acc, y)
	VCVTPH2PS(y, y)
	return y
}

func dotB32Canon(typ string, blockBytes int, loader func() b32Loader) {
	name := "dot" + typ + "cAVX2"
	text(name, NOSPLIT, "func(w *byte, q *int8, d *float32, nb4 int, c *float32)")
	Doc(fmt.Sprintf("%s stores to c[k] the chain over blocks b ≡ k (mod 4), b < 4·nb4, of fma(s_b, d_b·dy_b) for %s weights at w and Q8 activations q, d.", name, typ))
	w := Load(Param("w"), GP64())
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	nb4 := Load(Param("nb4"), GP64())
	ones := broadcastW(1)
	load := loader()
	cv := XMM()
	VXORPS(cv, cv, cv)
	Label(name + "_loop")
	TESTQ(nb4, nb4)
	JE(LabelRef(name + "_done"))
	var p [4]VecVirtual
	for k := range 4 {
		wv := load(w, k*blockBytes)
		ax := YMM()
		VPSIGNB(wv, wv, ax)
		sy := YMM()
		VMOVDQU(Mem{Base: q, Disp: 32 * k}, sy)
		VPSIGNB(wv, sy, sy)
		p[k] = YMM()
		VPMADDUBSW(sy, ax, p[k])
		VPMADDWD(ones, p[k], p[k])
	}
	x := blockSums4(p)
	y := scales4(w, blockBytes)
	VMULPS(Mem{Base: d}, y, y)
	VFMADD231PS(x, y, cv)
	ADDQ(U32(uint32(4*blockBytes)), w)
	ADDQ(U32(128), q)
	ADDQ(U8(16), d)
	DECQ(nb4)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	c := Load(Param("c"), GP64())
	VMOVUPS(cv, Mem{Base: c})
	VZEROUPPER()
	RET()
}

func dotB32Canonx4(typ string, blockBytes int, loader func() b32Loader) {
	name := "dot" + typ + "cx4AVX2"
	text(name, NOSPLIT, "func(w *byte, q *int8, qs int, d *float32, ds int, nb4 int, c *float32)")
	Doc(fmt.Sprintf("%s stores to c[4t+k] the chains of %s for token t < 4 (q+t*qs, d+t*ds bytes), as %s does.", name, typ, "dot"+typ+"cAVX2"))
	w := Load(Param("w"), GP64())
	q := loadStrided("q", "qs")
	d := loadStrided("d", "ds")
	nb4 := Load(Param("nb4"), GP64())
	c := Load(Param("c"), GP64())
	ones := broadcastW(1)
	load := loader()
	wst := AllocLocal(128) // the four blocks' signed weights
	for t := range 4 {
		z := XMM()
		VXORPS(z, z, z)
		VMOVUPS(z, Mem{Base: c, Disp: 16 * t})
	}
	Label(name + "_loop")
	TESTQ(nb4, nb4)
	JE(LabelRef(name + "_done"))
	var ax [4]VecVirtual
	for k := range 4 {
		wv := load(w, k*blockBytes)
		VMOVDQU(wv, wst.Offset(32*k))
		ax[k] = YMM()
		VPSIGNB(wv, wv, ax[k])
	}
	dw := scales4(w, blockBytes)
	for t := range 4 {
		var p [4]VecVirtual
		for k := range 4 {
			sy := YMM()
			VMOVDQU(q.at(t, 32*k), sy)
			VPSIGNB(wst.Offset(32*k), sy, sy)
			p[k] = YMM()
			VPMADDUBSW(sy, ax[k], p[k])
			VPMADDWD(ones, p[k], p[k])
		}
		x := blockSums4(p)
		y := XMM()
		VMULPS(d.at(t, 0), dw, y)
		cv := XMM()
		VMOVUPS(Mem{Base: c, Disp: 16 * t}, cv)
		VFMADD231PS(x, y, cv)
		VMOVUPS(cv, Mem{Base: c, Disp: 16 * t})
	}
	ADDQ(U32(uint32(4*blockBytes)), w)
	q.advance(128)
	d.advance(16)
	DECQ(nb4)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
