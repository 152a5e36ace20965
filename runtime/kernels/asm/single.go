package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The one-token K-quant kernels for token generation, kept lean: scales are spread to the
// 16-bit lanes with one VPSHUFB from a register holding them in both 128-bit halves (no
// general-register round trips), and every accumulator stays a vector until the end.

// wordShuffles[j] selects 16-bit word j of each 128-bit half into every word of that half.
// wordPairShuffles[j] selects word j into the low half's words and word j+1 into the high
// half's (for sources holding the same 8 words in both halves).
var wordShuffles, wordPairShuffles [8]Mem

func shuffleConstants() {
	for j := range 8 {
		wordShuffles[j] = GLOBL(fmtName("wordShuf%d", j), RODATA|NOPTR)
		for i := range 16 {
			DATA(2*i, U8(uint8(2*j)))
			DATA(2*i+1, U8(uint8(2*j+1)))
		}
	}
	for j := range 7 {
		wordPairShuffles[j] = GLOBL(fmtName("wordPairShuf%d", j), RODATA|NOPTR)
		for i := range 16 {
			w := j
			if i >= 8 {
				w = j + 1
			}
			DATA(2*i, U8(uint8(2*w)))
			DATA(2*i+1, U8(uint8(2*w+1)))
		}
	}
}

// bothHalves loads 8 unsigned bytes at m, widens them to words and returns a YMM holding the
// 8 words in both halves.
func bothHalves(m Mem, signed bool) VecVirtual {
	x := XMM()
	if signed {
		VPMOVSXBW(m, x)
	} else {
		VPMOVZXBW(m, x)
	}
	y := YMM()
	VINSERTI128(U8(1), x, x.AsY(), y)
	return y
}

func dotQ4_K() {
	text("dotQ4_KAVX2", NOSPLIT, "func(w *byte, q *int8, d *float32, bsums *int16, nb int) float32")
	Doc("dotQ4_KAVX2 returns the dot product of nb Q4_K super-blocks at w with Q8_K activations.")
	w := Load(Param("w"), GP64())
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	bs := Load(Param("bsums"), GP64())
	nb := Load(Param("nb"), GP64())
	m4 := broadcastB(0x0F)
	accF := YMM()
	VXORPS(accF, accF, accF)
	accM := XMM()
	VXORPS(accM, accM, accM)
	utmp := AllocLocal(16)
	Label("dotQ4_KAVX2_loop")
	TESTQ(nb, nb)
	JE(LabelRef("dotQ4_KAVX2_done"))
	unpackScalesK4(w, utmp)
	dy := XMM()
	VBROADCASTSS(Mem{Base: d}, dy)
	// Minimum term, kept as 4 float lanes: dmin*dy * (m_j * (bsums[2j] + bsums[2j+1])).
	{
		mins := XMM()
		VPMOVZXBW(utmp.Offset(8), mins)
		bsv := YMM()
		VMOVDQU(Mem{Base: bs}, bsv)
		bhi := XMM()
		VEXTRACTI128(U8(1), bsv, bhi)
		VPHADDW(bhi, bsv.AsX(), bhi)
		VPMADDWD(mins, bhi, bhi)
		VCVTDQ2PS(bhi, bhi)
		dm := f16(Mem{Base: w, Disp: 2})
		VMULSS(dy, dm, dm)
		VBROADCASTSS(dm, dm)
		VFMADD231PS(bhi, dm, accM)
	}
	scv := bothHalves(utmp, false)
	sumi := YMM()
	VPXOR(sumi, sumi, sumi)
	for k := range 4 {
		raw := YMM()
		VMOVDQU(Mem{Base: w, Disp: 16 + 32*k}, raw)
		lo, hi := YMM(), YMM()
		VPAND(m4, raw, lo)
		VPSRLW(U8(4), raw, hi)
		VPAND(m4, hi, hi)
		for h, v := range []VecVirtual{lo, hi} {
			j := 2*k + h
			p := YMM()
			VPMADDUBSW(Mem{Base: q, Disp: 32 * j}, v, p)
			sc := YMM()
			VPSHUFB(wordShuffles[j], scv, sc)
			VPMADDWD(sc, p, p)
			VPADDD(p, sumi, sumi)
		}
	}
	VCVTDQ2PS(sumi, sumi)
	dd := f16(Mem{Base: w})
	VMULSS(dy, dd, dd)
	dv := YMM()
	VBROADCASTSS(dd, dv)
	VFMADD231PS(sumi, dv, accF)
	ADDQ(U32(144), w)
	ADDQ(U32(256), q)
	ADDQ(U8(4), d)
	ADDQ(U8(32), bs)
	DECQ(nb)
	JMP(LabelRef("dotQ4_KAVX2_loop"))
	Label("dotQ4_KAVX2_done")
	s := hsum(accF)
	VHADDPS(accM, accM, accM)
	VHADDPS(accM, accM, accM)
	VSUBSS(accM, s, s)
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

// dotQ6_K: per super-block, the 6-bit values are rebuilt unsigned (0..63) from the low nibbles
// and high pairs, multiplied with the activations as unsigned-by-signed bytes and weighted by
// their per-16 scales; the offset of 32 is removed at once through the activation's per-16
// sums: sum_i sc_i * (sum q6*q8 - 32 * bsum_i).
func dotQ6_K() {
	text("dotQ6_KAVX2", NOSPLIT, "func(w *byte, q *int8, d *float32, bsums *int16, nb int) float32")
	Doc("dotQ6_KAVX2 returns the dot product of nb Q6_K super-blocks at w with Q8_K activations.")
	w := Load(Param("w"), GP64())
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	bs := Load(Param("bsums"), GP64())
	nb := Load(Param("nb"), GP64())
	m4 := broadcastB(0x0F)
	m30 := broadcastB(0x30)
	accF := YMM()
	VXORPS(accF, accF, accF)
	Label("dotQ6_KAVX2_loop")
	TESTQ(nb, nb)
	JE(LabelRef("dotQ6_KAVX2_done"))
	sumi := YMM()
	{
		sc16 := YMM()
		VPMOVSXBW(Mem{Base: w, Disp: 192}, sc16)
		VPMADDWD(Mem{Base: bs}, sc16, sumi)
		VPSLLD(U8(5), sumi, sumi)
		z := YMM()
		VPXOR(z, z, z)
		VPSUBD(sumi, z, sumi)
	}
	for n := range 2 {
		// Scales 8n..8n+7, as words in both halves.
		scv := bothHalves(Mem{Base: w, Disp: 192 + 8*n}, true)
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
			p := YMM()
			VPMADDUBSW(Mem{Base: q, Disp: 128*n + 32*g}, v, p)
			sv := YMM()
			VPSHUFB(wordPairShuffles[2*g], scv, sv)
			VPMADDWD(sv, p, p)
			VPADDD(p, sumi, sumi)
		}
	}
	VCVTDQ2PS(sumi, sumi)
	dv := f16Scale(Mem{Base: w, Disp: 208}, Mem{Base: d})
	VFMADD231PS(sumi, dv, accF)
	ADDQ(U32(210), w)
	ADDQ(U32(256), q)
	ADDQ(U8(4), d)
	ADDQ(U8(32), bs)
	DECQ(nb)
	JMP(LabelRef("dotQ6_KAVX2_loop"))
	Label("dotQ6_KAVX2_done")
	s := hsum(accF)
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

func fmtName(f string, j int) string { return fmt.Sprintf(f, j) }
