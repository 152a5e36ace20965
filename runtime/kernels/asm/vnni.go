package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 VNNI kernels for prompt processing with 8-bit integer activations. Tokens lie
// along the vector lanes: the activations of 16 tokens are interleaved four bytes at a time
// (one ZMM holds the same four elements of 16 tokens, stored as unsigned q+128), and each
// four-byte group of a weight row is broadcast to all lanes by VPDPBUSD's memory operand, so
// one instruction does 64 multiply-adds and a weight row is read once for 16 tokens. Weight
// rows are first "prepared": unpacked to one signed byte per weight, with each block's scale
// in float32 and −128·Σw per block, the correction that removes the +128 of the activations.
// avo 0.5 does not know the VNNI instructions; they are emitted as raw instructions.

// vpdpbusd emits VPDPBUSD src, x, acc (acc += Σ of 4 products of x's unsigned bytes with src's
// signed bytes, per 32-bit lane); with bcst the 4 bytes at the memory operand src are
// broadcast.
func vpdpbusd(src Op, x, acc VecVirtual, bcst bool) {
	i := &ir.Instruction{Opcode: "VPDPBUSD", Operands: []Op{src, x, acc}, Inputs: []Op{src, x, acc}, Outputs: []Op{acc}, ISA: []string{"AVX512_VNNI"}}
	if bcst {
		i.Suffixes = []string{"BCST"}
	}
	Instruction(i)
}

// Prepared Q4_K super-block: 256 weights (0..15), then per sub-block j < 8: −128·Σw (int32),
// d·sc_j and dmin·m_j (float32).
const (
	prepQ4KBytes = 352
	prepQ4KInit  = 256
	prepQ4KScale = 288
	prepQ4KMin   = 320
)

// sumBytesY returns the sum of the 32 unsigned bytes of y in the low 32 bits of a general
// register.
func sumBytesY(y VecVirtual, zero VecVirtual) Register {
	s := YMM()
	VPSADBW(zero, y, s)
	h := XMM()
	VEXTRACTI128(U8(1), s, h)
	VPADDQ(s.AsX(), h, h)
	t := XMM()
	VPSHUFD(U8(0x4E), h, t)
	VPADDQ(t, h, h)
	g := GP32()
	VMOVD(h, g)
	return g
}

func prepQ4_K() {
	prepK8("prepQ4_KAVX512", "Q4_K", 144, 16, false)
}

func prepQ5_K() {
	prepK8("prepQ5_KAVX512", "Q5_K", 176, 48, true)
}

// prepK8 emits the preparation of Q4_K (or, with fifth bits, Q5_K) super-blocks of blockBytes
// bytes whose 4-bit values start at qsOff: weights 0..15 (0..31) in element order, then per
// sub-block −128·Σw, d·sc and dmin·m.
func prepK8(name, typ string, blockBytes, qsOff int, fifth bool) {
	text(name, NOSPLIT, "func(w *byte, nsb int, dst *byte)")
	Doc(name + " prepares nsb " + typ + " super-blocks at w for the 16-token kernel (352 bytes each at dst).")
	w := Load(Param("w"), GP64())
	nsb := Load(Param("nsb"), GP64())
	dst := Load(Param("dst"), GP64())
	m4 := broadcastB(0x0F)
	b01 := broadcastB(0x01)
	zero := YMM()
	VPXOR(zero, zero, zero)
	utmp := AllocLocal(16)
	Label(name + "_loop")
	TESTQ(nsb, nsb)
	JE(LabelRef(name + "_done"))
	unpackScalesK4(w, utmp)
	var hb VecVirtual
	if fifth {
		hb = YMM()
		VMOVDQU(Mem{Base: w, Disp: 16}, hb)
	}
	for k := range 4 {
		raw := YMM()
		VMOVDQU(Mem{Base: w, Disp: qsOff + 32*k}, raw)
		lo, hi := YMM(), YMM()
		VPAND(m4, raw, lo)
		VPSRLW(U8(4), raw, hi)
		VPAND(m4, hi, hi)
		for h, v := range []VecVirtual{lo, hi} {
			j := 2*k + h
			if fifth {
				// Bit j of the qh bytes is the fifth bit of sub-block j.
				bits := YMM()
				if j > 0 {
					VPSRLW(U8(uint8(j)), hb, bits)
					VPAND(b01, bits, bits)
				} else {
					VPAND(b01, hb, bits)
				}
				VPSLLW(U8(4), bits, bits)
				VPOR(bits, v, v)
			}
			VMOVDQU(v, Mem{Base: dst, Disp: 32 * j})
			g := sumBytesY(v, zero)
			NEGL(g)
			SHLL(U8(7), g)
			MOVL(g, Mem{Base: dst, Disp: prepQ4KInit + 4*j})
		}
	}
	for i, off := range []int{prepQ4KScale, prepQ4KMin} {
		v := YMM()
		VPMOVZXBD(utmp.Offset(8*i), v)
		VCVTDQ2PS(v, v)
		f := f16(Mem{Base: w, Disp: 2 * i})
		fb := YMM()
		VBROADCASTSS(f, fb)
		VMULPS(fb, v, v)
		VMOVUPS(v, Mem{Base: dst, Disp: off})
	}
	ADDQ(U32(uint32(blockBytes)), w)
	ADDQ(U32(prepQ4KBytes), dst)
	DECQ(nsb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// gemmQ4_Kx16 multiplies two prepared Q4_K rows (wp and wp+ws) with ng groups of 16 tokens.
// The groups' activations follow each other: per super-block 4096 bytes at x (element-group
// i of token t at 64i+4t), 16 scales at da and 8×16 sub-block sums (float32) at bsp.
func gemmQ4_Kx16() {
	name := "gemmQ4_Kx16AVX512"
	text(name, NOSPLIT, "func(wp *byte, ws int, nsb int, x *byte, da *float32, bsp *float32, ng int, out *float32, os int)")
	Doc(name + " writes to out[r*os bytes + 16g + t] the dot products of prepared Q4_K rows r < 2 (wp + r*ws) with token t of group g < ng.")
	wp := Load(Param("wp"), GP64())
	ws := Load(Param("ws"), GP64())
	x := Load(Param("x"), GP64())
	da := Load(Param("da"), GP64())
	bsp := Load(Param("bsp"), GP64())
	ng := Load(Param("ng"), GP64())
	out := Load(Param("out"), GP64())
	os := Load(Param("os"), GP64())
	c, s := GP64(), GP64()
	row := func(r, disp int) Mem {
		if r == 0 {
			return Mem{Base: c, Disp: disp}
		}
		return Mem{Base: c, Index: ws, Scale: 1, Disp: disp}
	}
	Label(name + "_group")
	TESTQ(ng, ng)
	JE(LabelRef(name + "_done"))
	var total [2]VecVirtual
	for r := range total {
		total[r] = ZMM()
		VXORPS(total[r], total[r], total[r])
	}
	MOVQ(wp, c)
	Load(Param("nsb"), s)
	Label(name + "_sb")
	TESTQ(s, s)
	JE(LabelRef(name + "_store"))
	var acc [2][8]VecVirtual
	for r := range 2 {
		for j := range 8 {
			acc[r][j] = ZMM()
			VPBROADCASTD(row(r, prepQ4KInit+4*j), acc[r][j])
		}
	}
	for i := range 8 {
		for j := range 8 {
			e := 8*j + i
			xv := ZMM()
			VMOVDQU32(Mem{Base: x, Disp: 64 * e}, xv)
			for r := range 2 {
				vpdpbusd(row(r, 4*e), xv, acc[r][j], true)
			}
		}
	}
	for r := range 2 {
		sb := ZMM()
		VXORPS(sb, sb, sb)
		for j := range 8 {
			f := acc[r][j]
			VCVTDQ2PS(f, f)
			VFMADD231PS_BCST(row(r, prepQ4KScale+4*j), f, sb)
		}
		for j := range 8 {
			b := ZMM()
			VMOVUPS(Mem{Base: bsp, Disp: 64 * j}, b)
			VFNMADD231PS_BCST(row(r, prepQ4KMin+4*j), b, sb)
		}
		VFMADD231PS(Mem{Base: da}, sb, total[r])
	}
	ADDQ(U32(prepQ4KBytes), c)
	ADDQ(U32(4096), x)
	ADDQ(U8(64), da)
	ADDQ(U32(512), bsp)
	DECQ(s)
	JMP(LabelRef(name + "_sb"))
	Label(name + "_store")
	VMOVUPS(total[0], Mem{Base: out})
	VMOVUPS(total[1], Mem{Base: out, Index: os, Scale: 1})
	ADDQ(U8(64), out)
	DECQ(ng)
	JMP(LabelRef(name + "_group"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// Prepared Q6_K super-block: 256 weights q−32 (−32..31), then per 16-weight group g < 16:
// −128·Σw (int32) and d·sc_g (float32).
const (
	prepQ6KBytes = 384
	prepQ6KInit  = 256
	prepQ6KScale = 320
)

func prepQ6_K() {
	name := "prepQ6_KAVX512"
	text(name, NOSPLIT, "func(w *byte, nsb int, dst *byte)")
	Doc(name + " prepares nsb Q6_K super-blocks at w for the 16-token kernel (384 bytes each at dst).")
	w := Load(Param("w"), GP64())
	nsb := Load(Param("nsb"), GP64())
	dst := Load(Param("dst"), GP64())
	m4 := broadcastB(0x0F)
	m30 := broadcastB(0x30)
	b32 := broadcastB(0x20)
	zero := YMM()
	VPXOR(zero, zero, zero)
	Label(name + "_loop")
	TESTQ(nsb, nsb)
	JE(LabelRef(name + "_done"))
	for n := range 2 {
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
			// Sums of the two 16-byte groups, as −128·(Σq − 16·32).
			s := YMM()
			VPSADBW(zero, v, s)
			t := YMM()
			VPSHUFD(U8(0x4E), s, t)
			VPADDQ(t, s, s)
			hi := XMM()
			VEXTRACTI128(U8(1), s, hi)
			grp := 2 * (4*n + g)
			for k, x := range []Register{s.AsX(), hi} {
				r := GP32()
				VMOVD(x, r)
				SUBL(U32(512), r)
				NEGL(r)
				SHLL(U8(7), r)
				MOVL(r, Mem{Base: dst, Disp: prepQ6KInit + 4*(grp+k)})
			}
			VPSUBB(b32, v, v)
			VMOVDQU(v, Mem{Base: dst, Disp: 128*n + 32*g})
		}
	}
	sc := ZMM()
	VPMOVSXBD(Mem{Base: w, Disp: 192}, sc)
	VCVTDQ2PS(sc, sc)
	f := f16(Mem{Base: w, Disp: 208})
	fb := ZMM()
	VBROADCASTSS(f, fb)
	VMULPS(fb, sc, sc)
	VMOVUPS(sc, Mem{Base: dst, Disp: prepQ6KScale})
	ADDQ(U32(210), w)
	ADDQ(U32(prepQ6KBytes), dst)
	DECQ(nsb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// gemmQ6_Kx16 multiplies two prepared Q6_K rows with ng groups of 16 tokens (activations as
// for gemmQ4_Kx16; the sub-block sums are not used).
func gemmQ6_Kx16() {
	name := "gemmQ6_Kx16AVX512"
	text(name, NOSPLIT, "func(wp *byte, ws int, nsb int, x *byte, da *float32, ng int, out *float32, os int)")
	Doc(name + " writes to out[r*os bytes + 16g + t] the dot products of prepared Q6_K rows r < 2 (wp + r*ws) with token t of group g < ng.")
	wp := Load(Param("wp"), GP64())
	ws := Load(Param("ws"), GP64())
	x := Load(Param("x"), GP64())
	da := Load(Param("da"), GP64())
	ng := Load(Param("ng"), GP64())
	out := Load(Param("out"), GP64())
	os := Load(Param("os"), GP64())
	c, s := GP64(), GP64()
	row := func(r, disp int) Mem {
		if r == 0 {
			return Mem{Base: c, Disp: disp}
		}
		return Mem{Base: c, Index: ws, Scale: 1, Disp: disp}
	}
	Label(name + "_group")
	TESTQ(ng, ng)
	JE(LabelRef(name + "_done"))
	var total [2]VecVirtual
	for r := range total {
		total[r] = ZMM()
		VXORPS(total[r], total[r], total[r])
	}
	MOVQ(wp, c)
	Load(Param("nsb"), s)
	Label(name + "_sb")
	TESTQ(s, s)
	JE(LabelRef(name + "_store"))
	var sb [2]VecVirtual
	for r := range sb {
		sb[r] = ZMM()
		VXORPS(sb[r], sb[r], sb[r])
	}
	for h := range 2 {
		var acc [2][8]VecVirtual
		for r := range 2 {
			for k := range 8 {
				acc[r][k] = ZMM()
				VPBROADCASTD(row(r, prepQ6KInit+4*(8*h+k)), acc[r][k])
			}
		}
		for i := range 4 {
			for k := range 8 {
				e := 4*(8*h+k) + i
				xv := ZMM()
				VMOVDQU32(Mem{Base: x, Disp: 64 * e}, xv)
				for r := range 2 {
					vpdpbusd(row(r, 4*e), xv, acc[r][k], true)
				}
			}
		}
		for r := range 2 {
			for k := range 8 {
				f := acc[r][k]
				VCVTDQ2PS(f, f)
				VFMADD231PS_BCST(row(r, prepQ6KScale+4*(8*h+k)), f, sb[r])
			}
		}
	}
	for r := range 2 {
		VFMADD231PS(Mem{Base: da}, sb[r], total[r])
	}
	ADDQ(U32(prepQ6KBytes), c)
	ADDQ(U32(4096), x)
	ADDQ(U8(64), da)
	DECQ(s)
	JMP(LabelRef(name + "_sb"))
	Label(name + "_store")
	VMOVUPS(total[0], Mem{Base: out})
	VMOVUPS(total[1], Mem{Base: out, Index: os, Scale: 1})
	ADDQ(U8(64), out)
	DECQ(ng)
	JMP(LabelRef(name + "_group"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// Prepared 32-weight block (Q8_0, Q4_0): 32 signed weights, −128·Σw (int32) and d (float32).
const (
	prepB32Bytes = 40
	prepB32Init  = 32
	prepB32Scale = 36
)

func prepQ8_0() {
	name := "prepQ8_0AVX512"
	text(name, NOSPLIT, "func(w *byte, nb int, dst *byte)")
	Doc(name + " prepares nb Q8_0 blocks at w for the 16-token kernel (40 bytes each at dst).")
	prepB32(name, 34, func(w Register) VecVirtual {
		v := YMM()
		VMOVDQU(Mem{Base: w, Disp: 2}, v)
		return v
	})
}

func prepQ4_0() {
	name := "prepQ4_0AVX512"
	text(name, NOSPLIT, "func(w *byte, nb int, dst *byte)")
	Doc(name + " prepares nb Q4_0 blocks at w for the 16-token kernel (40 bytes each at dst).")
	m4 := broadcastB(0x0F)
	eight := broadcastB(8)
	prepB32(name, 18, func(w Register) VecVirtual {
		v := nibbles32(Mem{Base: w, Disp: 2}, m4)
		VPSUBB(eight, v, v)
		return v
	})
}

// prepB32 is the loop of the 32-weight block preparations: load returns the block's weights
// as signed bytes; the F16 scale is at the block's start.
func prepB32(name string, blockBytes int, load func(w Register) VecVirtual) {
	w := Load(Param("w"), GP64())
	nb := Load(Param("nb"), GP64())
	dst := Load(Param("dst"), GP64())
	x80 := broadcastB(0x80)
	zero := YMM()
	VPXOR(zero, zero, zero)
	Label(name + "_loop")
	TESTQ(nb, nb)
	JE(LabelRef(name + "_done"))
	v := load(w)
	VMOVDQU(v, Mem{Base: dst})
	u := YMM()
	VPXOR(x80, v, u) // w+128, unsigned
	g := sumBytesY(u, zero)
	SUBL(U32(32*128), g)
	NEGL(g)
	SHLL(U8(7), g)
	MOVL(g, Mem{Base: dst, Disp: prepB32Init})
	f := f16(Mem{Base: w})
	VMOVSS(f, Mem{Base: dst, Disp: prepB32Scale})
	ADDQ(U8(uint8(blockBytes)), w)
	ADDQ(U8(prepB32Bytes), dst)
	DECQ(nb)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// gemmB32x16 multiplies two prepared rows of 32-weight blocks with ng groups of 16 tokens of
// Q8 activations (per block 512 bytes at x, element-group i of token t at 64i+4t, and 16
// scales at da), four blocks at a time. As the one- and four-token kernels (canon.go), it
// keeps four chains over the blocks b ≡ k (mod 4) and returns (c0+c1)+(c2+c3).
func gemmB32x16() {
	name := "gemmB32x16AVX512"
	text(name, NOSPLIT, "func(wp *byte, ws int, nb int, x *byte, da *float32, ng int, out *float32, os int)")
	Doc(name + " writes to out[r*os bytes + 16g + t] the dot products of prepared rows r < 2 of 32-weight blocks (wp + r*ws) with token t of group g < ng.")
	wp := Load(Param("wp"), GP64())
	ws := Load(Param("ws"), GP64())
	x := Load(Param("x"), GP64())
	da := Load(Param("da"), GP64())
	ng := Load(Param("ng"), GP64())
	out := Load(Param("out"), GP64())
	os := Load(Param("os"), GP64())
	c, s := GP64(), GP64()
	row := func(r, disp int) Mem {
		if r == 0 {
			return Mem{Base: c, Disp: disp}
		}
		return Mem{Base: c, Index: ws, Scale: 1, Disp: disp}
	}
	Label(name + "_group")
	TESTQ(ng, ng)
	JE(LabelRef(name + "_done"))
	var total [2][4]VecVirtual
	for r := range total {
		for k := range 4 {
			total[r][k] = ZMM()
			VXORPS(total[r][k], total[r][k], total[r][k])
		}
	}
	MOVQ(wp, c)
	Load(Param("nb"), s)
	// blocks emits the code for nblk consecutive blocks, the first going to chain k0.
	blocks := func(nblk, k0 int) {
		acc := make([][]VecVirtual, 2)
		for r := range 2 {
			acc[r] = make([]VecVirtual, nblk)
			for b := range nblk {
				acc[r][b] = ZMM()
				VPBROADCASTD(row(r, prepB32Bytes*b+prepB32Init), acc[r][b])
			}
		}
		for i := range 8 {
			for b := range nblk {
				xv := ZMM()
				VMOVDQU32(Mem{Base: x, Disp: 512*b + 64*i}, xv)
				for r := range 2 {
					vpdpbusd(row(r, prepB32Bytes*b+4*i), xv, acc[r][b], true)
				}
			}
		}
		for b := range nblk {
			dv := ZMM()
			VMOVUPS(Mem{Base: da, Disp: 64 * b}, dv)
			for r := range 2 {
				f := acc[r][b]
				VCVTDQ2PS(f, f)
				sc := ZMM()
				VMULPS_BCST(row(r, prepB32Bytes*b+prepB32Scale), dv, sc)
				VFMADD231PS(sc, f, total[r][k0+b])
			}
		}
		ADDQ(U32(uint32(prepB32Bytes*nblk)), c)
		ADDQ(U32(uint32(512*nblk)), x)
		ADDQ(U32(uint32(64*nblk)), da)
		SUBQ(U8(uint8(nblk)), s)
	}
	Label(name + "_four")
	CMPQ(s, U8(4))
	JL(LabelRef(name + "_tail"))
	blocks(4, 0)
	JMP(LabelRef(name + "_four"))
	Label(name + "_tail")
	for k := range 3 {
		TESTQ(s, s)
		JE(LabelRef(name + "_store"))
		blocks(1, k)
	}
	Label(name + "_store")
	for r := range 2 {
		VADDPS(total[r][1], total[r][0], total[r][0])
		VADDPS(total[r][3], total[r][2], total[r][2])
		VADDPS(total[r][2], total[r][0], total[r][0])
	}
	VMOVUPS(total[0][0], Mem{Base: out})
	VMOVUPS(total[1][0], Mem{Base: out, Index: os, Scale: 1})
	ADDQ(U8(64), out)
	DECQ(ng)
	JMP(LabelRef(name + "_group"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
