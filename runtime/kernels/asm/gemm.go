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

// storeTile4x4 writes the horizontal sums of acc[r][t] to out + t*os + 4*r: the sixteen
// accumulators are reduced together (pairs unpacked and added, then 128-bit lanes exchanged)
// into one vector whose 128-bit lane t holds token t's four rows.
func storeTile4x4(acc [4][4]VecVirtual, out, os Register) {
	var a [16]VecVirtual
	for t := range 4 {
		for r := range 4 {
			a[4*t+r] = acc[r][t]
		}
	}
	var t1 [8]VecVirtual
	for m := range 8 {
		lo, hi := ZMM(), ZMM()
		VUNPCKLPS(a[2*m+1], a[2*m], lo)
		VUNPCKHPS(a[2*m+1], a[2*m], hi)
		VADDPS(hi, lo, lo)
		t1[m] = lo
	}
	var u [4]VecVirtual
	for p := range 4 {
		lo, hi := ZMM(), ZMM()
		VSHUFPS(U8(0x44), t1[2*p+1], t1[2*p], lo)
		VSHUFPS(U8(0xEE), t1[2*p+1], t1[2*p], hi)
		VADDPS(hi, lo, lo)
		u[p] = lo
	}
	var v [2]VecVirtual
	for q := range 2 {
		lo, hi := ZMM(), ZMM()
		VSHUFF32X4(U8(0x88), u[2*q+1], u[2*q], lo)
		VSHUFF32X4(U8(0xDD), u[2*q+1], u[2*q], hi)
		VADDPS(hi, lo, lo)
		v[q] = lo
	}
	w, hi := ZMM(), ZMM()
	VSHUFF32X4(U8(0x88), v[1], v[0], w)
	VSHUFF32X4(U8(0xDD), v[1], v[0], hi)
	VADDPS(hi, w, w)
	VMOVUPS(w.AsX(), Mem{Base: out})
	for t := 1; t < 4; t++ {
		ADDQ(os, out)
		VEXTRACTF32X4(U8(uint8(t)), w, Mem{Base: out})
	}
}

// floatTile emits a four-row, four-token kernel for float weights: load converts 16 weights
// at m to float32 in a ZMM; wbytes is their size in bytes.
func floatTile(name, typ string, wbytes int, load func(m Mem, z VecVirtual)) {
	text(name, NOSPLIT, "func(w *byte, ws int, x *float32, xs int, n int, out *float32, os int)")
	Doc(name + " writes to out[t*os+4*r bytes] the dot product of n " + typ + " values at w+r*ws with the n floats at x+t*xs, for rows r < 4 and tokens t < 4; n is a multiple of 16.")
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
		load(w.at(r, 0), wv[r])
	}
	for t := range 4 {
		xv := ZMM()
		VMOVUPS(x.at(t, 0), xv)
		for r := range 4 {
			VFMADD231PS(xv, wv[r], acc[r][t])
		}
	}
	w.advance(16 * wbytes)
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

func gemmF16x4x4() {
	floatTile("gemmF16x4x4AVX512", "F16", 2, func(m Mem, z VecVirtual) { VCVTPH2PS(m, z) })
	floatTile("gemmF32x4x4AVX512", "F32", 4, func(m Mem, z VecVirtual) { VMOVUPS(m, z) })
	floatTile("gemmBF16x4x4AVX512", "BF16", 2, func(m Mem, z VecVirtual) {
		VPMOVZXWD(m, z)
		VPSLLD(U8(16), z, z)
	})
}

// transpose16 emits a 16×16 float32 transpose: 16 rows of 16 floats at src (ss bytes apart)
// become 16 rows at dst (ds bytes apart), with the usual three rounds of shuffles.
func transpose16() {
	name := "transpose16AVX512"
	text(name, NOSPLIT, "func(src *float32, ss int, dst *float32, ds int)")
	Doc(name + " stores the transpose of the 16×16 block at src (rows ss bytes apart) at dst (rows ds bytes apart).")
	src := Load(Param("src"), GP64())
	ss := Load(Param("ss"), GP64())
	var r [16]VecVirtual
	for i := range r {
		r[i] = ZMM()
		VMOVUPS(Mem{Base: src}, r[i])
		if i < 15 {
			ADDQ(ss, src)
		}
	}
	var t [16]VecVirtual
	for i := 0; i < 16; i += 2 {
		t[i], t[i+1] = ZMM(), ZMM()
		VUNPCKLPS(r[i+1], r[i], t[i])
		VUNPCKHPS(r[i+1], r[i], t[i+1])
	}
	var u [16]VecVirtual
	for q := 0; q < 16; q += 4 {
		for k, src := range [][2]int{{0, 2}, {0, 2}, {1, 3}, {1, 3}} {
			u[q+k] = ZMM()
			imm := uint8(0x44)
			if k%2 == 1 {
				imm = 0xEE
			}
			VSHUFPS(U8(imm), t[q+src[1]], t[q+src[0]], u[q+k])
		}
	}
	var v [16]VecVirtual
	for h := 0; h < 16; h += 8 {
		for k := range 4 {
			v[h+k], v[h+4+k] = ZMM(), ZMM()
			VSHUFF32X4(U8(0x88), u[h+4+k], u[h+k], v[h+k])
			VSHUFF32X4(U8(0xDD), u[h+4+k], u[h+k], v[h+4+k])
		}
	}
	dst := Load(Param("dst"), GP64())
	ds := Load(Param("ds"), GP64())
	var w [16]VecVirtual
	for k := range 8 {
		w[k], w[k+8] = ZMM(), ZMM()
		VSHUFF32X4(U8(0x88), v[k+8], v[k], w[k])
		VSHUFF32X4(U8(0xDD), v[k+8], v[k], w[k+8])
	}
	// w[c] is column c: v[k] (k < 4) held columns k and k+8, v[4+k] columns 4+k and 12+k.
	for c := range 16 {
		VMOVUPS(w[c], Mem{Base: dst})
		if c < 15 {
			ADDQ(ds, dst)
		}
	}
	VZEROUPPER()
	RET()
}
