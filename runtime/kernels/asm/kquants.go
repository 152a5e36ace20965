package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// kquantHeader declares a T-token K-quant kernel and loads its pointers; it zeroes out[0..T).
func kquantHeader(name string, T int) (w Register, q, d, b strided, nb, out Register) {
	text(name, NOSPLIT, "func(w *byte, q *int8, qs int, d *float32, ds int, bsums *int16, bs int, nb int, out *float32)")
	Doc(fmt.Sprintf("%s writes to out[t] the dot product of nb super-blocks at w with the Q8_K activations of token t (q+t*qs, d+t*ds, bsums+t*bs bytes), t < %d.", name, T))
	w = Load(Param("w"), GP64())
	q = loadStrided("q", "qs")
	d = loadStrided("d", "ds")
	b = loadStrided("bsums", "bs")
	nb = Load(Param("nb"), GP64())
	out = Load(Param("out"), GP64())
	for t := range T {
		z := XMM()
		VXORPS(z, z, z)
		VMOVSS(z, Mem{Base: out, Disp: 4 * t})
	}
	Label(name + "_loop")
	TESTQ(nb, nb)
	JE(LabelRef(name + "_done"))
	return
}

// kquantFooter advances the pointers by one super-block and closes the loop.
func kquantFooter(name string, w Register, q, d, b strided, nb Register, blockBytes int) {
	ADDQ(U32(uint32(blockBytes)), w)
	q.advance(256)
	d.advance(4)
	b.advance(32)
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// addOut adds s (a float in the low lane) to out[t].
func addOut(s Register, out Register, t int) {
	VADDSS(Mem{Base: out, Disp: 4 * t}, s, s)
	VMOVSS(s, Mem{Base: out, Disp: 4 * t})
}

// zeroSums returns T zeroed int32 accumulators.
func zeroSums(T int) []VecVirtual {
	sumi := make([]VecVirtual, T)
	for t := range sumi {
		sumi[t] = YMM()
		VPXOR(sumi[t], sumi[t], sumi[t])
	}
	return sumi
}

// scalePair builds the 16-bit scale vector [scs[a] x8 | scs[a+1] x8] from the int16 scales
// stored at scs.
func scalePair(scs Mem, a int) VecVirtual {
	sa, sb := XMM(), XMM()
	VPBROADCASTW(scs.Offset(2*a), sa)
	VPBROADCASTW(scs.Offset(2*a+2), sb)
	sv := YMM()
	VINSERTI128(U8(1), sb, sa.AsY(), sv)
	return sv
}

// accumulate adds scale-weighted products of the unsigned weight bytes v with each token's
// activations at byte offset off to the int32 sums.
func accumulate(sumi []VecVirtual, v VecVirtual, sv Op, q strided, off int) {
	for t := range sumi {
		p := YMM()
		VPMADDUBSW(q.at(t, off), v, p)
		VPMADDWD(sv, p, p)
		VPADDD(p, sumi[t], sumi[t])
	}
}

// unpackScalesK4 decodes the 12 packed scale bytes of a Q4_K/Q5_K super-block at w+4 into
// 8 scales (utmp bytes 0..7) and 8 minimums (bytes 8..15), as ggml's kmask arithmetic does.
func unpackScalesK4(w Register, utmp Mem) {
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

// minsTerm finishes a Q4_K/Q5_K super-block: out[t] += dy_t * (d * sumi_t - dmin * sum_j
// m_j * (bsums_t[2j] + bsums_t[2j+1])).
func minsTerm(T int, w Register, d, b strided, out Register, utmp Mem, sumi []VecVirtual) {
	wd := f16(Mem{Base: w})
	wm := f16(Mem{Base: w, Disp: 2})
	mins := XMM()
	VPMOVZXBW(utmp.Offset(8), mins)
	for t := range T {
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
		VMULSS(wd, s, s)
		VFNMADD231SS(wm, bhi, s)
		VMULSS(d.at(t, 0), s, s)
		addOut(s, out, t)
	}
}

// dotQ5_K: as Q4_K, with the fifth bit of sub-block 2k+h taken from bit 2k+h of the qh bytes.
func dotQ5_K(T int) {
	name := "dotQ5_K" + suffix(T)
	w, q, d, b, nb, out := kquantHeader(name, T)
	m4 := broadcastB(0x0F)
	b01 := broadcastB(0x01)
	utmp := AllocLocal(16)
	unpackScalesK4(w, utmp)
	sumi := zeroSums(T)
	hb := YMM()
	VMOVDQU(Mem{Base: w, Disp: 16}, hb)
	for k := range 4 {
		raw := YMM()
		VMOVDQU(Mem{Base: w, Disp: 48 + 32*k}, raw)
		lo, hi := YMM(), YMM()
		VPAND(m4, raw, lo)
		VPSRLW(U8(4), raw, hi)
		VPAND(m4, hi, hi)
		for h, v := range []VecVirtual{lo, hi} {
			bits := YMM()
			if s := 2*k + h; s > 0 {
				VPSRLW(U8(uint8(s)), hb, bits)
				VPAND(b01, bits, bits)
			} else {
				VPAND(b01, hb, bits)
			}
			VPSLLW(U8(4), bits, bits)
			VPOR(bits, v, v)
			j := 2*k + h
			r := GP32()
			MOVBLZX(utmp.Offset(j), r)
			sx := XMM()
			VMOVD(r, sx)
			sc := YMM()
			VPBROADCASTW(sx, sc)
			accumulate(sumi, v, sc, q, 32*j)
		}
	}
	minsTerm(T, w, d, b, out, utmp, sumi)
	kquantFooter(name, w, q, d, b, nb, 176)
}

// dotQ3_K: values are rebuilt unsigned as u = q + 4 (0..7) from two low bits and the mask
// bit; the offset is removed through the activation sums: sum_i sc_i (sum u*q8 - 4 bsum_i).
func dotQ3_K(T int) {
	name := "dotQ3_K" + suffix(T)
	w, q, d, b, nb, out := kquantHeader(name, T)
	b03 := broadcastB(0x03)
	b04 := broadcastB(0x04)
	b20 := broadcastB(0x20)
	// Sixteen 6-bit scales from the 12 bytes at 96, minus 32, as int16 at scs.
	raw := AllocLocal(16)
	scs := AllocLocal(32)
	{
		a0, a1, tm, r := GP32(), GP32(), GP32(), GP32()
		MOVL(Mem{Base: w, Disp: 96}, a0)
		MOVL(Mem{Base: w, Disp: 100}, a1)
		MOVL(Mem{Base: w, Disp: 104}, tm)
		word := func(src Register, shift, tshift uint8, off int) {
			MOVL(src, r)
			if shift > 0 {
				SHRL(U8(shift), r)
			}
			ANDL(U32(0x0f0f0f0f), r)
			t2 := GP32()
			MOVL(tm, t2)
			if tshift > 0 {
				SHRL(U8(tshift), t2)
			}
			ANDL(U32(0x03030303), t2)
			SHLL(U8(4), t2)
			ORL(t2, r)
			MOVL(r, raw.Offset(off))
		}
		word(a0, 0, 0, 0)
		word(a1, 0, 2, 4)
		word(a0, 4, 4, 8)
		word(a1, 4, 6, 12)
	}
	sx := XMM()
	VMOVDQU(raw, sx)
	VPSUBB(b20, sx, sx)
	sc16 := YMM()
	VPMOVSXBW(sx, sc16)
	VMOVDQU(sc16, scs)
	sumi := make([]VecVirtual, T)
	for t := range T {
		sumi[t] = YMM()
		VPMADDWD(b.at(t, 0), sc16, sumi[t])
		VPSLLD(U8(2), sumi[t], sumi[t])
		z := YMM()
		VPXOR(z, z, z)
		VPSUBD(sumi[t], z, sumi[t])
	}
	hm := YMM()
	VMOVDQU(Mem{Base: w}, hm)
	for n := range 2 {
		qv := YMM()
		VMOVDQU(Mem{Base: w, Disp: 32 + 32*n}, qv)
		for j := range 4 {
			v := YMM()
			if j == 0 {
				VPAND(b03, qv, v)
			} else {
				VPSRLW(U8(uint8(2*j)), qv, v)
				VPAND(b03, v, v)
			}
			// Third bit: bit 4n+j of the mask byte, moved to bit 2.
			h := YMM()
			switch sh := 4*n + j; {
			case sh < 2:
				VPSLLW(U8(uint8(2-sh)), hm, h)
			case sh == 2:
				VMOVDQA(hm, h)
			default:
				VPSRLW(U8(uint8(sh-2)), hm, h)
			}
			VPAND(b04, h, h)
			VPOR(h, v, v)
			sv := scalePair(scs, 8*n+2*j)
			accumulate(sumi, v, sv, q, 128*n+32*j)
		}
	}
	wd := f16(Mem{Base: w, Disp: 108})
	for t := range T {
		s := hsumI(sumi[t])
		VMULSS(wd, s, s)
		VMULSS(d.at(t, 0), s, s)
		addOut(s, out, t)
	}
	kquantFooter(name, w, q, d, b, nb, 110)
}

// dotQ2_K: 2-bit values with a 4-bit scale and a 4-bit minimum per 16.
func dotQ2_K(T int) {
	name := "dotQ2_K" + suffix(T)
	w, q, d, b, nb, out := kquantHeader(name, T)
	b03 := broadcastB(0x03)
	m4 := broadcastB(0x0F)
	scs := AllocLocal(32)
	raw := XMM()
	VMOVDQU(Mem{Base: w}, raw)
	lo := XMM()
	VPAND(m4, raw, lo)
	sc16 := YMM()
	VPMOVZXBW(lo, sc16)
	VMOVDQU(sc16, scs)
	hi := XMM()
	VPSRLW(U8(4), raw, hi)
	VPAND(m4, hi, hi)
	mins := YMM()
	VPMOVZXBW(hi, mins)
	sumi := zeroSums(T)
	for n := range 2 {
		qv := YMM()
		VMOVDQU(Mem{Base: w, Disp: 16 + 32*n}, qv)
		for j := range 4 {
			v := YMM()
			if j == 0 {
				VPAND(b03, qv, v)
			} else {
				VPSRLW(U8(uint8(2*j)), qv, v)
				VPAND(b03, v, v)
			}
			sv := scalePair(scs, 8*n+2*j)
			accumulate(sumi, v, sv, q, 128*n+32*j)
		}
	}
	wd := f16(Mem{Base: w, Disp: 80})
	wm := f16(Mem{Base: w, Disp: 82})
	for t := range T {
		mt := YMM()
		VPMADDWD(b.at(t, 0), mins, mt)
		mf := hsumI(mt)
		s := hsumI(sumi[t])
		VMULSS(wd, s, s)
		VFNMADD231SS(wm, mf, s)
		VMULSS(d.at(t, 0), s, s)
		addOut(s, out, t)
	}
	kquantFooter(name, w, q, d, b, nb, 84)
}

// dotIQ4_XS: IQ4_NL values with a signed 6-bit scale per 32.
func dotIQ4_XS(T int) {
	name := "dotIQ4_XS" + suffix(T)
	w, q, d, b, nb, out := kquantHeader(name, T)
	m4 := broadcastB(0x0F)
	tab := YMM()
	VBROADCASTI128(iq4nlTable, tab)
	sumi := zeroSums(T)
	sh := GP32()
	MOVWLZX(Mem{Base: w, Disp: 2}, sh)
	for ib := range 8 {
		v := nibbles32(Mem{Base: w, Disp: 8 + 16*ib}, m4)
		VPSHUFB(v, tab, v)
		ax := YMM()
		VPSIGNB(v, v, ax)
		// ls = ((scales_l[ib/2] >> 4*(ib%2)) & 0xF) | (((scales_h >> 2*ib) & 3) << 4), minus 32.
		r, hbits := GP32(), GP32()
		MOVBLZX(Mem{Base: w, Disp: 4 + ib/2}, r)
		if ib%2 == 1 {
			SHRL(U8(4), r)
		}
		ANDL(U8(0x0F), r)
		MOVL(sh, hbits)
		if ib > 0 {
			SHRL(U8(uint8(2*ib)), hbits)
		}
		ANDL(U8(3), hbits)
		SHLL(U8(4), hbits)
		ORL(hbits, r)
		SUBL(U8(32), r)
		sx := XMM()
		VMOVD(r, sx)
		sc := YMM()
		VPBROADCASTW(sx, sc)
		for t := range T {
			sy := YMM()
			VMOVDQU(q.at(t, 32*ib), sy)
			VPSIGNB(v, sy, sy)
			p := YMM()
			VPMADDUBSW(sy, ax, p)
			VPMADDWD(sc, p, p)
			VPADDD(p, sumi[t], sumi[t])
		}
	}
	wd := f16(Mem{Base: w})
	for t := range T {
		s := hsumI(sumi[t])
		VMULSS(wd, s, s)
		VMULSS(d.at(t, 0), s, s)
		addOut(s, out, t)
	}
	kquantFooter(name, w, q, d, b, nb, 136)
}
