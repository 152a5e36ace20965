package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 VNNI kernels for token generation (one and four tokens) of Q4_K and Q6_K; they
// also need GFNI. The weights of a super-block are rebuilt unsigned, 64 at a time in one ZMM in
// element order (Q4_K: the 32 bytes of a nibble pair broadcast to both halves, whose low and
// high nibbles one VGF2P8AFFINEQB extracts; Q6_K: 64 low-nibble bytes merged with their high
// pairs, moved into place by VGF2P8AFFINEQB), so that the activations are read straight
// from memory by VPDPBUSD (unsigned weights × signed activations, four products per 32-bit
// lane). A lane's sum is at most 4·63·128 in magnitude, so it fits in 16 bits and VPDPWSSD
// with a dword vector holding the lane's scale in its low word (zero in the high one)
// multiplies it exactly and adds it to the super-block's sums. Q6_K's
// offset of 32 is removed through the activations' per-16 sums, as in the AVX2 kernels.
// Scales are unpacked in general registers and moved to vector registers without going
// through memory. These kernels use all 32 vector registers (EVEX encodings only).

// vpdpwssd emits VPDPWSSD src, x, acc (acc += the sum of the 2 products of x's signed words with
// src's, per 32-bit lane): VPMADDWD and VPADDD in one instruction.
func vpdpwssd(src Op, x, acc VecVirtual) {
	Instruction(&ir.Instruction{Opcode: "VPDPWSSD", Operands: []Op{src, x, acc}, Inputs: []Op{src, x, acc}, Outputs: []Op{acc}, ISA: []string{"AVX512_VNNI"}})
}

// vgf2p8affineqb emits VGF2P8AFFINEQB $0, m, x, dst: each byte of x transformed by the 8×8
// bit matrix in the corresponding qword of m (output bit i is the parity of x and byte 7−i of
// the qword). It moves and masks bit fields of every byte in one instruction.
func vgf2p8affineqb(m Op, x, dst VecVirtual) {
	Instruction(&ir.Instruction{Opcode: "VGF2P8AFFINEQB", Operands: []Op{U8(0), m, x, dst}, Inputs: []Op{m, x}, Outputs: []Op{dst}, ISA: []string{"GFNI", "AVX512F"}})
}

// Bit matrices for vgf2p8affineqb: the low nibble kept, the high nibble moved to the low one,
// and bit pairs 0-1, 2-3, 4-5, 6-7 moved to bits 4-5.
const (
	gfLowNibble  = 0x0102040800000000
	gfHighNibble = 0x1020408000000000
	gfPair01     = 0x01020000
	gfPair23     = 0x04080000
	gfPair45     = 0x10200000
	gfPair67     = 0x40800000
)

// gfMatrices returns a 64-byte constant of matrix a for the low 32 bytes and b for the high.
func gfMatrices(name string, a, b uint64) Mem {
	var v [16]uint32
	for i := range 8 {
		m := a
		if i >= 4 {
			m = b
		}
		v[2*i], v[2*i+1] = uint32(m), uint32(m>>32)
	}
	return const64(name, v)
}

// consts64 holds the 64-byte constants already emitted, by name.
var consts64 = map[string]Mem{}

// const64 returns a read-only 64-byte constant of 16 32-bit words.
func const64(name string, v [16]uint32) Mem {
	if m, ok := consts64[name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i, x := range v {
		DATA(4*i, U32(x))
	}
	consts64[name] = m
	return m
}

// halves returns a 64-byte constant whose low 8 words are a and high 8 words b.
func halves(name string, a, b uint32) Mem {
	var v [16]uint32
	for i := range v {
		v[i] = a
		if i >= 8 {
			v[i] = b
		}
	}
	return const64(name, v)
}

// zconst loads a 64-byte constant into a ZMM register.
func zconst(m Mem) VecVirtual {
	z := ZMM()
	VMOVDQU32(m, z)
	return z
}

// zbyte returns a ZMM register holding the byte b in all 64 lanes.
func zbyte(b uint32) VecVirtual {
	z := ZMM()
	VPBROADCASTD(broadcastB(b), z)
	return z
}

// hsumZE is hsumZ with EVEX-encodable instructions only, for kernels whose accumulators may
// live in registers 16-31.
func hsumZE(z VecVirtual) VecVirtual {
	hi := YMM()
	VEXTRACTF64X4(U8(1), z, hi)
	lo := YMM()
	VADDPS(hi, z.AsY(), lo)
	return hsumYE(lo)
}

// hsumYE returns the horizontal sum of the 8 floats of y in the low lane of an XMM register
// (EVEX-encodable instructions only).
func hsumYE(y VecVirtual) VecVirtual {
	h := XMM()
	VEXTRACTF32X4(U8(1), y, h)
	x := XMM()
	VADDPS(h, y.AsX(), x)
	t := XMM()
	VPERMILPS(U8(0x4E), x, t)
	VADDPS(t, x, x)
	VMOVSHDUP(x, t)
	VADDSS(t, x, x)
	return x
}

// scalesK4Vec decodes the 12 packed scale bytes of a Q4_K super-block at w+4 into an XMM
// register holding the bytes [sc0..sc3, m0..m3, sc4..sc7, m4..m7], in general registers
// (masks are the 64-bit constants 0x3f.., 0x0f.., 0x03.. repeated).
func scalesK4Vec(w Register, m3f, m0f, m03 Register) VecVirtual {
	u01, u2, t, s := GP64(), GP64(), GP64(), GP64()
	MOVQ(Mem{Base: w, Disp: 4}, u01)
	MOVL(Mem{Base: w, Disp: 12}, u2.As32())
	// High scales and minimums: low four bits from u2 (scales) and u2>>4 (minimums), top two
	// bits from the top bits of bytes 0..3 (scales) and 4..7 (minimums).
	MOVQ(u2, t)
	SHRL(U8(4), t.As32())
	SHLQ(U8(32), t)
	ORQ(u2, t)
	ANDQ(m0f, t)
	MOVQ(u01, s)
	SHRQ(U8(6), s)
	ANDQ(m03, s)
	SHLQ(U8(4), s)
	ORQ(s, t)
	ANDQ(m3f, u01)
	x := XMM()
	VMOVQ(u01, x)
	VPINSRQ(U8(1), t, x, x)
	return x
}

// k4Index returns the VPERMD index selecting, from the dwords [sc0..3, m0..3, sc4..7,
// m4..7], scale a in the low 8 lanes and scale b in the high 8.
func k4Index(a, b int) Mem {
	pos := func(j int) uint32 {
		if j < 4 {
			return uint32(j)
		}
		return uint32(j + 4)
	}
	return halves(fmt.Sprintf("k4idx%d%d", a, b), pos(a), pos(b))
}

// minsDupShuffle spreads the minimums of [sc0..3, m0..3, sc4..7, m4..7] as m0 m0 m1 m1 ...
// m7 m7, for VPMADDWD with the pairs of per-16 activation sums.
var minsDupShuffle Mem

func minsDupConst() Mem {
	if minsDupShuffle.Symbol.Name == "" {
		minsDupShuffle = GLOBL("minsDupShuf", RODATA|NOPTR)
		for j := range 8 {
			p := 4 + j
			if j >= 4 {
				p = 8 + j
			}
			DATA(2*j, U8(uint8(p)))
			DATA(2*j+1, U8(uint8(p)))
		}
	}
	return minsDupShuffle
}

// mask64 returns a general register holding the byte b repeated eight times.
func mask64(b uint64) Register {
	r := GP64()
	MOVQ(U64(b*0x0101010101010101), r)
	return r
}

func dotQ4_KVNNI() {
	name := "dotQ4_KAVX512"
	text(name, NOSPLIT, "func(w *byte, q *int8, d *float32, bsums *int16, nb int) float32")
	Doc(name + " returns the dot product of nb Q4_K super-blocks at w with Q8_K activations (AVX-512 VNNI).")
	w := Load(Param("w"), GP64())
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	bs := Load(Param("bsums"), GP64())
	nb := Load(Param("nb"), GP64())
	m3f, m0f, m03 := mask64(0x3f), mask64(0x0f), mask64(0x03)
	nib := zconst(gfMatrices("gfLowHighNibble", gfLowNibble, gfHighNibble))
	var idx [4]VecVirtual
	for k := range idx {
		idx[k] = zconst(k4Index(2*k, 2*k+1))
	}
	mdup := XMM()
	VMOVDQU(minsDupConst(), mdup)
	accF, accM := ZMM(), YMM()
	VXORPS(accF, accF, accF)
	VXORPS(accM, accM, accM)
	Label(name + "_loop")
	TESTQ(nb, nb)
	JE(LabelRef(name + "_done"))
	x := scalesK4Vec(w, m3f, m0f, m03)
	scd := ZMM()
	VPMOVZXBD(x, scd)
	// Minimum term: m_j * (bsums[2j] + bsums[2j+1]) in 8 int32 lanes.
	mw := YMM()
	{
		md := XMM()
		VPSHUFB(mdup, x, md)
		VPMOVZXBW(md, mw)
		VPMADDWD(Mem{Base: bs}, mw, mw)
	}
	sumi := ZMM()
	VXORPS(sumi, sumi, sumi)
	for k := range 4 {
		v := ZMM()
		VBROADCASTI64X4(Mem{Base: w, Disp: 16 + 32*k}, v)
		vgf2p8affineqb(nib, v, v)
		p := ZMM()
		VXORPS(p, p, p)
		vpdpbusd(Mem{Base: q, Disp: 64 * k}, v, p, false)
		sc := ZMM()
		VPERMD(scd, idx[k], sc)
		vpdpwssd(sc, p, sumi)
	}
	// [d, dmin] * dy.
	dm := XMM()
	{
		r := GP32()
		MOVL(Mem{Base: w}, r)
		VMOVD(r, dm)
		VCVTPH2PS(dm, dm)
		dy := XMM()
		VBROADCASTSS(Mem{Base: d}, dy)
		VMULPS(dy, dm, dm)
	}
	dd := ZMM()
	VBROADCASTSS(dm, dd)
	VCVTDQ2PS(sumi, sumi)
	VFMADD231PS(sumi, dd, accF)
	mm := XMM()
	VMOVSHDUP(dm, mm)
	dmv := YMM()
	VBROADCASTSS(mm, dmv)
	VCVTDQ2PS(mw, mw)
	VFMADD231PS(mw, dmv, accM)
	ADDQ(U32(144), w)
	ADDQ(U32(256), q)
	ADDQ(U8(4), d)
	ADDQ(U8(32), bs)
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	hi := YMM()
	VEXTRACTF64X4(U8(1), accF, hi)
	lo := YMM()
	VADDPS(hi, accF.AsY(), lo)
	VSUBPS(accM, lo, lo)
	s := hsumYE(lo)
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

// q6Index returns the VPERMD index giving lane l the Q6_K scale 4c + l/4 (chunk c of 64
// weights).
func q6Index(c int) Mem {
	var v [16]uint32
	for l := range v {
		v[l] = uint32(4*c + l/4)
	}
	return const64(fmt.Sprintf("q6idx%d", c), v)
}

func dotQ6_KVNNI() {
	name := "dotQ6_KAVX512"
	text(name, NOSPLIT, "func(w *byte, q *int8, d *float32, bsums *int16, nb int) float32")
	Doc(name + " returns the dot product of nb Q6_K super-blocks at w with Q8_K activations (AVX-512 VNNI).")
	w := Load(Param("w"), GP64())
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	bs := Load(Param("bsums"), GP64())
	nb := Load(Param("nb"), GP64())
	m0f := zbyte(0x0F)
	pairs := [2]VecVirtual{
		zconst(gfMatrices("gfPairs01and23", gfPair01, gfPair23)),
		zconst(gfMatrices("gfPairs45and67", gfPair45, gfPair67)),
	}
	var idx [4]VecVirtual
	for c := range idx {
		idx[c] = zconst(q6Index(c))
	}
	accF := ZMM()
	VXORPS(accF, accF, accF)
	Label(name + "_loop")
	TESTQ(nb, nb)
	JE(LabelRef(name + "_done"))
	// sumi starts at -32 * sum_g sc_g * bsums_g (low 8 lanes).
	sumi := ZMM()
	sc16 := YMM()
	VPMOVSXBW(Mem{Base: w, Disp: 192}, sc16)
	{
		c := YMM()
		VPMADDWD(Mem{Base: bs}, sc16, c)
		VPSLLD(U8(5), c, c)
		z := YMM()
		VXORPS(z, z, z)
		VPSUBD(c, z, sumi.AsY())
	}
	// Scales as dwords with the signed scale in the low word and zero in the high one.
	scd := ZMM()
	VPMOVZXWD(sc16, scd)
	for n := range 2 {
		l := ZMM()
		VMOVDQU64(Mem{Base: w, Disp: 64 * n}, l)
		hb := ZMM()
		VBROADCASTI64X4(Mem{Base: w, Disp: 128 + 32*n}, hb)
		for h := range 2 {
			// h = 0: elements 128n..128n+63 (low nibbles, high pairs 0-1 and 2-3); h = 1: the
			// next 64 (high nibbles, pairs 4-5 and 6-7).
			v := ZMM()
			vgf2p8affineqb(pairs[h], hb, v) // the high pairs at bits 4-5
			src := l
			if h == 1 {
				src = ZMM()
				VPSRLW(U8(4), l, src)
			}
			VPTERNLOGD(U8(0xF8), m0f, src, v) // v | (src & 0x0F)
			p := ZMM()
			VXORPS(p, p, p)
			vpdpbusd(Mem{Base: q, Disp: 128*n + 64*h}, v, p, false)
			sc := ZMM()
			VPERMD(scd, idx[2*n+h], sc)
			vpdpwssd(sc, p, sumi)
		}
	}
	dd := ZMM()
	{
		r := GP32()
		MOVWLZX(Mem{Base: w, Disp: 208}, r)
		x := XMM()
		VMOVD(r, x)
		VCVTPH2PS(x, x)
		VMULSS(Mem{Base: d}, x, x)
		VBROADCASTSS(x, dd)
	}
	VCVTDQ2PS(sumi, sumi)
	VFMADD231PS(sumi, dd, accF)
	ADDQ(U32(210), w)
	ADDQ(U32(256), q)
	ADDQ(U8(4), d)
	ADDQ(U8(32), bs)
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	s := hsumZE(accF)
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

// tokenAddr returns, for each token t < 4 of s, a function giving the address of token t's
// data at disp; token 3's base is computed by the first call for it, and reused.
func tokenAddr(s strided) [4]func(disp int) Mem {
	var p3 Register
	var f [4]func(int) Mem
	for t := range 4 {
		f[t] = func(disp int) Mem {
			switch t {
			case 0:
				return Mem{Base: s.base, Disp: disp}
			case 3:
				if p3 == nil {
					p3 = GP64()
					LEAQ(Mem{Base: s.base, Index: s.stride, Scale: 2}, p3)
					ADDQ(s.stride, p3)
				}
				return Mem{Base: p3, Disp: disp}
			}
			return Mem{Base: s.base, Index: s.stride, Scale: uint8(t), Disp: disp}
		}
	}
	return f
}

// x4Header declares a four-token VNNI K-quant kernel, loads its pointers and returns four
// zeroed float accumulators (the sums of each token are kept in registers until the end).
func x4Header(name string) (w Register, q, d, b strided, nb Register, acc [4]VecVirtual) {
	text(name, NOSPLIT, "func(w *byte, q *int8, qs int, d *float32, ds int, bsums *int16, bs int, nb int, out *float32)")
	Doc(name + " writes to out[t] the dot product of nb super-blocks at w with the Q8_K activations of token t (q+t*qs, d+t*ds, bsums+t*bs bytes), t < 4 (AVX-512 VNNI).")
	w = Load(Param("w"), GP64())
	q = loadStrided("q", "qs")
	d = loadStrided("d", "ds")
	b = loadStrided("bsums", "bs")
	nb = Load(Param("nb"), GP64())
	for t := range acc {
		acc[t] = ZMM()
		VXORPS(acc[t], acc[t], acc[t])
	}
	return
}

// x4Footer advances the pointers, closes the loop and stores the horizontal sums of the
// accumulators (minus the minimum terms sub, when given) to out[0..3].
func x4Footer(name string, w Register, q, d, b strided, nb Register, blockBytes int, acc [4]VecVirtual, sub []VecVirtual) {
	ADDQ(U32(uint32(blockBytes)), w)
	q.advance(256)
	d.advance(4)
	b.advance(32)
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	out := Load(Param("out"), GP64())
	for t, a := range acc {
		hi := YMM()
		VEXTRACTF64X4(U8(1), a, hi)
		lo := YMM()
		VADDPS(hi, a.AsY(), lo)
		if sub != nil {
			VSUBPS(sub[t], lo, lo)
		}
		s := hsumYE(lo)
		VMOVSS(s, Mem{Base: out, Disp: 4 * t})
	}
	VZEROUPPER()
	RET()
}

// scalesK4VecMem is scalesK4Vec with its masks read from memory (fewer general registers).
func scalesK4VecMem(w Register) VecVirtual {
	m := func(b uint64) Mem {
		name := fmt.Sprintf("qmask%02x", b)
		if c, ok := consts[name]; ok {
			return c
		}
		c := GLOBL(name, RODATA|NOPTR)
		DATA(0, U64(b*0x0101010101010101))
		consts[name] = c
		return c
	}
	u01, u2, t, s := GP64(), GP64(), GP64(), GP64()
	MOVQ(Mem{Base: w, Disp: 4}, u01)
	MOVL(Mem{Base: w, Disp: 12}, u2.As32())
	MOVQ(u2, t)
	SHRL(U8(4), t.As32())
	SHLQ(U8(32), t)
	ORQ(u2, t)
	ANDQ(m(0x0f), t)
	MOVQ(u01, s)
	SHRQ(U8(6), s)
	ANDQ(m(0x03), s)
	SHLQ(U8(4), s)
	ORQ(s, t)
	ANDQ(m(0x3f), u01)
	x := XMM()
	VMOVQ(u01, x)
	VPINSRQ(U8(1), t, x, x)
	return x
}

func dotQ4_Kx4VNNI() {
	name := "dotQ4_Kx4AVX512"
	w, q, d, b, nb, accF := x4Header(name)
	var accM [4]VecVirtual
	for t := range accM {
		accM[t] = YMM()
		VXORPS(accM[t], accM[t], accM[t])
	}
	nib := gfMatrices("gfLowHighNibble", gfLowNibble, gfHighNibble)
	Label(name + "_loop")
	TESTQ(nb, nb)
	JE(LabelRef(name + "_done"))
	qa, da, ba := tokenAddr(q), tokenAddr(d), tokenAddr(b)
	x := scalesK4VecMem(w)
	scd := ZMM()
	VPMOVZXBD(x, scd)
	mw := YMM()
	{
		md := XMM()
		VPSHUFB(minsDupConst(), x, md)
		VPMOVZXBW(md, mw)
	}
	var v, sc [4]VecVirtual
	for k := range 4 {
		v[k] = ZMM()
		VBROADCASTI64X4(Mem{Base: w, Disp: 16 + 32*k}, v[k])
		vgf2p8affineqb(nib, v[k], v[k])
		sc[k] = zconst(k4Index(2*k, 2*k+1))
		VPERMD(scd, sc[k], sc[k])
	}
	dm := XMM()
	{
		r := GP32()
		MOVL(Mem{Base: w}, r)
		VMOVD(r, dm)
		VCVTPH2PS(dm, dm)
	}
	dd := ZMM()
	VBROADCASTSS(dm, dd)
	dmv := YMM()
	{
		mm := XMM()
		VMOVSHDUP(dm, mm)
		VBROADCASTSS(mm, dmv)
	}
	for t := range 4 {
		sumi := ZMM()
		VXORPS(sumi, sumi, sumi)
		for k := range 4 {
			p := ZMM()
			VXORPS(p, p, p)
			vpdpbusd(qa[t](64*k), v[k], p, false)
			vpdpwssd(sc[k], p, sumi)
		}
		// accF += (d * sumi) * dy; accM += (dmin * summ) * dy.
		VCVTDQ2PS(sumi, sumi)
		VMULPS(dd, sumi, sumi)
		VFMADD231PS_BCST(da[t](0), sumi, accF[t])
		m := YMM()
		VPMADDWD(ba[t](0), mw, m)
		VCVTDQ2PS(m, m)
		VMULPS(dmv, m, m)
		VFMADD231PS_BCST(da[t](0), m, accM[t])
	}
	x4Footer(name, w, q, d, b, nb, 144, accF, accM[:])
}

func dotQ6_Kx4VNNI() {
	name := "dotQ6_Kx4AVX512"
	w, q, d, b, nb, accF := x4Header(name)
	// Constants are memory operands here: the registers hold the four tokens' sums.
	m0f := halves("bytes0fx64", 0x0f0f0f0f, 0x0f0f0f0f)
	pairs := [2]Mem{
		gfMatrices("gfPairs01and23", gfPair01, gfPair23),
		gfMatrices("gfPairs45and67", gfPair45, gfPair67),
	}
	Label(name + "_loop")
	TESTQ(nb, nb)
	JE(LabelRef(name + "_done"))
	qa, da, ba := tokenAddr(q), tokenAddr(d), tokenAddr(b)
	sc16 := YMM()
	VPMOVSXBW(Mem{Base: w, Disp: 192}, sc16)
	scd := ZMM()
	VPMOVZXWD(sc16, scd)
	var v, sc [4]VecVirtual
	for n := range 2 {
		l := ZMM()
		VMOVDQU64(Mem{Base: w, Disp: 64 * n}, l)
		hb := ZMM()
		VBROADCASTI64X4(Mem{Base: w, Disp: 128 + 32*n}, hb)
		for h := range 2 {
			c := 2*n + h
			v[c] = ZMM()
			vgf2p8affineqb(pairs[h], hb, v[c])
			src := l
			if h == 1 {
				src = ZMM()
				VPSRLW(U8(4), l, src)
			}
			VPTERNLOGD(U8(0xF8), m0f, src, v[c])
			sc[c] = zconst(q6Index(c))
			VPERMD(scd, sc[c], sc[c])
		}
	}
	dd := ZMM()
	{
		r := GP32()
		MOVWLZX(Mem{Base: w, Disp: 208}, r)
		x := XMM()
		VMOVD(r, x)
		VCVTPH2PS(x, x)
		VBROADCASTSS(x, dd)
	}
	for t := range 4 {
		sumi := ZMM()
		{
			c := YMM()
			VPMADDWD(ba[t](0), sc16, c)
			VPSLLD(U8(5), c, c)
			z := YMM()
			VXORPS(z, z, z)
			VPSUBD(c, z, sumi.AsY())
		}
		for c := range 4 {
			p := ZMM()
			VXORPS(p, p, p)
			vpdpbusd(qa[t](64*c), v[c], p, false)
			vpdpwssd(sc[c], p, sumi)
		}
		VCVTDQ2PS(sumi, sumi)
		VMULPS(dd, sumi, sumi)
		VFMADD231PS_BCST(da[t](0), sumi, accF[t])
	}
	x4Footer(name, w, q, d, b, nb, 210, accF, nil)
}
