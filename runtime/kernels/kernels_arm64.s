//go:build arm64 && !purego

// NEON dot-product kernels for arm64, written by hand (avo generates amd64 only). Each integer
// kernel has two paths chosen by its dp argument: SDOT (the dot-product extension, FEAT_DotProd,
// "asimddp" in Linux's cpuinfo) and plain Advanced SIMD (SMULL/SMULL2 into 16-bit products,
// SADALP into 32-bit sums). Both compute the same exact integer sums.

#include "textflag.h"

// Instructions the Go assembler does not know, encoded from the Arm Architecture Reference
// Manual (A64 Advanced SIMD). Operands are vector register numbers, destination first.

// SDOT Vd.4S, Vn.16B, Vm.16B: each 32-bit lane of d += the sum of four byte products.
#define SDOT(d, n, m) WORD $(0x4E809400 | ((m)<<16) | ((n)<<5) | (d))
// SMULL Vd.8H, Vn.8B, Vm.8B: signed 16-bit products of the low eight bytes.
#define SMULL8(d, n, m) WORD $(0x0E20C000 | ((m)<<16) | ((n)<<5) | (d))
// SMULL2 Vd.8H, Vn.16B, Vm.16B: signed 16-bit products of the high eight bytes.
#define SMULL28(d, n, m) WORD $(0x4E20C000 | ((m)<<16) | ((n)<<5) | (d))
// SADALP Vd.4S, Vn.8H: each 32-bit lane of d += the sum of a pair of 16-bit lanes of n.
#define SADALP4(d, n) WORD $(0x4E606800 | ((n)<<5) | (d))
// SCVTF Vd.4S, Vn.4S: signed 32-bit integers to float32.
#define SCVTF4(d, n) WORD $(0x4E21D800 | ((n)<<5) | (d))
// FCVTL Vd.4S, Vn.4H and FCVTL2 Vd.4S, Vn.8H: the low or high four F16 values to float32.
#define FCVTL4(d, n) WORD $(0x0E217800 | ((n)<<5) | (d))
#define FCVTL24(d, n) WORD $(0x4E217800 | ((n)<<5) | (d))
// FMUL, FADD, FADDP Vd.4S, Vn.4S, Vm.4S.
#define FMUL4(d, n, m) WORD $(0x6E20DC00 | ((m)<<16) | ((n)<<5) | (d))
#define FADD4(d, n, m) WORD $(0x4E20D400 | ((m)<<16) | ((n)<<5) | (d))
#define FADDP4(d, n, m) WORD $(0x6E20D400 | ((m)<<16) | ((n)<<5) | (d))

// IDOT16 adds the 16 byte products of n and m to the four lanes of d without SDOT (t0 and t1
// are scratch): 16-bit products, then pairwise sums into 32 bits.
#define IDOT16(d, n, m, t0, t1) SMULL8(t0, n, m); SMULL28(t1, n, m); SADALP4(d, t0); SADALP4(d, t1)

// func dotF16NEON(w *byte, x *float32, n int) float32
// The dot product of n F16 weights at w with n floats at x; n is a positive multiple of 16.
// Four accumulators of four lanes, summed pairwise at the end.
TEXT ·dotF16NEON(SB), NOSPLIT, $0-28
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16

f16loop:
	VLD1.P 32(R0), [V0.B16, V1.B16]
	FCVTL4(2, 0)
	FCVTL24(3, 0)
	FCVTL4(4, 1)
	FCVTL24(5, 1)
	VLD1.P 64(R1), [V6.S4, V7.S4, V8.S4, V9.S4]
	VFMLA V2.S4, V6.S4, V16.S4
	VFMLA V3.S4, V7.S4, V17.S4
	VFMLA V4.S4, V8.S4, V18.S4
	VFMLA V5.S4, V9.S4, V19.S4
	SUBS $16, R2, R2
	BNE  f16loop

	FADD4(16, 16, 17)
	FADD4(18, 18, 19)
	FADD4(16, 16, 18)
	FADDP4(16, 16, 16)
	FADDP4(16, 16, 16)
	FMOVS F16, ret+24(FP)
	RET

// B32FINISH turns the integer sums of four blocks in the accumulators V16..V19 into
// c_k = fma(s_k, d_k·dy_k, c_k) on the chains in V31: V20.H[0..3] hold the blocks' F16 scales
// and R2 points at their four activation scales (advanced past them).
#define B32FINISH \
	VADDP V17.S4, V16.S4, V16.S4; \
	VADDP V19.S4, V18.S4, V18.S4; \
	VADDP V18.S4, V16.S4, V16.S4; \
	SCVTF4(16, 16); \
	FCVTL4(20, 20); \
	VLD1.P 16(R2), [V23.S4]; \
	FMUL4(20, 20, 23); \
	VFMLA V20.S4, V16.S4, V31.S4

// B32DOTS adds the products of the weights V0..V7 (two vectors per block) with the activations
// V8..V15 into V16..V19 (one per block), with SDOT when R5 is nonzero; label names the plain
// path's end.
#define B32DOTS_SDOT \
	SDOT(16, 0, 8); SDOT(16, 1, 9); SDOT(17, 2, 10); SDOT(17, 3, 11); \
	SDOT(18, 4, 12); SDOT(18, 5, 13); SDOT(19, 6, 14); SDOT(19, 7, 15)
#define B32DOTS_PLAIN \
	IDOT16(16, 0, 8, 21, 22); IDOT16(16, 1, 9, 21, 22); IDOT16(17, 2, 10, 21, 22); IDOT16(17, 3, 11, 21, 22); \
	IDOT16(18, 4, 12, 21, 22); IDOT16(18, 5, 13, 21, 22); IDOT16(19, 6, 14, 21, 22); IDOT16(19, 7, 15, 21, 22)

#define ZERO4(a, b, c, d) \
	VEOR a.B16, a.B16, a.B16; VEOR b.B16, b.B16, b.B16; VEOR c.B16, c.B16, c.B16; VEOR d.B16, d.B16, d.B16

// Q8_0 block: F16 scale, 32 signed bytes (34 bytes). Loads block k's scale into V20.H[k] and
// its weights into two vectors.
#define Q8_0BLOCK(k, lo, hi) \
	MOVHU (R0), R7; \
	VMOV R7, V20.H[k]; \
	ADD $2, R0; \
	VLD1.P 32(R0), [lo.B16, hi.B16]

// func dotQ8_0cNEON(w *byte, q *int8, d *float32, nb4 int, c *float32, dp int)
// Stores to c[k] the chain over blocks b ≡ k (mod 4), b < 4·nb4, of fma(s_b, d_b·dy_b) for
// Q8_0 weights at w and Q8 activations q, d (the contract of finishB32); nb4 > 0. dp selects
// SDOT.
TEXT ·dotQ8_0cNEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD d+16(FP), R2
	MOVD nb4+24(FP), R3
	MOVD c+32(FP), R4
	MOVD dp+40(FP), R5
	VEOR V31.B16, V31.B16, V31.B16

q80loop:
	Q8_0BLOCK(0, V0, V1)
	Q8_0BLOCK(1, V2, V3)
	Q8_0BLOCK(2, V4, V5)
	Q8_0BLOCK(3, V6, V7)
	VLD1.P 64(R1), [V8.B16, V9.B16, V10.B16, V11.B16]
	VLD1.P 64(R1), [V12.B16, V13.B16, V14.B16, V15.B16]
	ZERO4(V16, V17, V18, V19)
	CBZ  R5, q80plain
	B32DOTS_SDOT
	B    q80sum

q80plain:
	B32DOTS_PLAIN

q80sum:
	B32FINISH
	SUBS $1, R3, R3
	BNE  q80loop
	VST1 [V31.S4], (R4)
	RET

// Q4_0 block: F16 scale, 16 bytes of nibbles (18 bytes): weight j in the low nibble of byte j,
// weight j+16 in the high one, both offset by 8. V28 holds 0x0F bytes, V29 8s.
#define Q4_0BLOCK(k, lo, hi) \
	MOVHU (R0), R7; \
	VMOV R7, V20.H[k]; \
	ADD $2, R0; \
	VLD1.P 16(R0), [hi.B16]; \
	VAND V28.B16, hi.B16, lo.B16; \
	VUSHR $4, hi.B16, hi.B16; \
	VSUB V29.B16, lo.B16, lo.B16; \
	VSUB V29.B16, hi.B16, hi.B16

// func dotQ4_0cNEON(w *byte, q *int8, d *float32, nb4 int, c *float32, dp int)
// dotQ8_0cNEON for Q4_0 weights.
TEXT ·dotQ4_0cNEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD d+16(FP), R2
	MOVD nb4+24(FP), R3
	MOVD c+32(FP), R4
	MOVD dp+40(FP), R5
	VEOR V31.B16, V31.B16, V31.B16
	VMOVI $15, V28.B16
	VMOVI $8, V29.B16

q40loop:
	Q4_0BLOCK(0, V0, V1)
	Q4_0BLOCK(1, V2, V3)
	Q4_0BLOCK(2, V4, V5)
	Q4_0BLOCK(3, V6, V7)
	VLD1.P 64(R1), [V8.B16, V9.B16, V10.B16, V11.B16]
	VLD1.P 64(R1), [V12.B16, V13.B16, V14.B16, V15.B16]
	ZERO4(V16, V17, V18, V19)
	CBZ  R5, q40plain
	B32DOTS_SDOT
	B    q40sum

q40plain:
	B32DOTS_PLAIN

q40sum:
	B32FINISH
	SUBS $1, R3, R3
	BNE  q40loop
	VST1 [V31.S4], (R4)
	RET

// func dotQ4_KsNEON(w *byte, q *int8, nb int, s *int32, dp int)
// Stores to s[8b+j] the integer dot product of sub-block j (32 weights, 4-bit values before
// scales and minimums) of Q4_K super-block b with its 32 Q8_K activations, for nb > 0 blocks.
// Bytes 32k..32k+31 of a block's 128 value bytes hold sub-block 2k in their low nibbles and
// 2k+1 in their high ones.
TEXT ·dotQ4_KsNEON(SB), NOSPLIT, $0-40
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD nb+16(FP), R2
	MOVD s+24(FP), R3
	MOVD dp+32(FP), R5
	VMOVI $15, V28.B16

q4kblock:
	ADD  $16, R0 // d, dmin, scales
	MOVD $4, R6

q4kpair:
	VLD1.P 32(R0), [V0.B16, V1.B16]
	VAND  V28.B16, V0.B16, V2.B16
	VAND  V28.B16, V1.B16, V3.B16
	VUSHR $4, V0.B16, V4.B16
	VUSHR $4, V1.B16, V5.B16
	VLD1.P 64(R1), [V6.B16, V7.B16, V8.B16, V9.B16]
	VEOR  V16.B16, V16.B16, V16.B16
	VEOR  V17.B16, V17.B16, V17.B16
	CBZ   R5, q4kplain
	SDOT(16, 2, 6)
	SDOT(16, 3, 7)
	SDOT(17, 4, 8)
	SDOT(17, 5, 9)
	B     q4ksum

q4kplain:
	IDOT16(16, 2, 6, 24, 25)
	IDOT16(16, 3, 7, 24, 25)
	IDOT16(17, 4, 8, 24, 25)
	IDOT16(17, 5, 9, 24, 25)

q4ksum:
	VADDP V17.S4, V16.S4, V16.S4
	VADDP V16.S4, V16.S4, V16.S4
	VST1.P V16.D[0], 8(R3)
	SUBS  $1, R6, R6
	BNE   q4kpair
	SUBS  $1, R2, R2
	BNE   q4kblock
	RET

// func dotQ6_KsNEON(w *byte, q *int8, nb int, s *int32, dp int)
// Stores to s[16b+i] the integer dot product of the 16 weights of group i (6-bit values minus
// 32, before scales) of Q6_K super-block b with their Q8_K activations, for nb > 0 blocks.
// In each half n of a block (low nibbles at 64n, high bit pairs at 128+32n), weight
// 128n+32g+l takes the low nibble of byte l (g = 0) or l+32 (g = 1), or the high nibble of
// byte l (g = 2) or l+32 (g = 3), and bits 2g..2g+1 of high byte l as its bits 4..5.
TEXT ·dotQ6_KsNEON(SB), NOSPLIT, $0-40
	MOVD  w+0(FP), R0
	MOVD  q+8(FP), R1
	MOVD  nb+16(FP), R2
	MOVD  s+24(FP), R3
	MOVD  dp+32(FP), R5
	VMOVI $15, V28.B16
	VMOVI $48, V29.B16
	VMOVI $32, V30.B16

q6kblock:
	MOVD R0, R7      // low nibbles
	ADD  $128, R0, R8 // high bit pairs
	MOVD $2, R6

q6khalf:
	VLD1.P 64(R7), [V0.B16, V1.B16, V2.B16, V3.B16]
	VLD1.P 32(R8), [V4.B16, V5.B16]
	VUSHR $4, V0.B16, V16.B16 // g = 2
	VUSHR $4, V1.B16, V17.B16
	VUSHR $4, V2.B16, V18.B16 // g = 3
	VUSHR $4, V3.B16, V19.B16
	VAND  V28.B16, V0.B16, V0.B16 // g = 0
	VAND  V28.B16, V1.B16, V1.B16
	VAND  V28.B16, V2.B16, V2.B16 // g = 1
	VAND  V28.B16, V3.B16, V3.B16

	VSHL  $4, V4.B16, V6.B16 // bits 0..1 of the high bytes, as bits 4..5
	VAND  V29.B16, V6.B16, V6.B16
	VORR  V6.B16, V0.B16, V0.B16
	VSHL  $4, V5.B16, V6.B16
	VAND  V29.B16, V6.B16, V6.B16
	VORR  V6.B16, V1.B16, V1.B16
	VSHL  $2, V4.B16, V6.B16 // bits 2..3
	VAND  V29.B16, V6.B16, V6.B16
	VORR  V6.B16, V2.B16, V2.B16
	VSHL  $2, V5.B16, V6.B16
	VAND  V29.B16, V6.B16, V6.B16
	VORR  V6.B16, V3.B16, V3.B16
	VAND  V29.B16, V4.B16, V6.B16 // bits 4..5
	VORR  V6.B16, V16.B16, V16.B16
	VAND  V29.B16, V5.B16, V6.B16
	VORR  V6.B16, V17.B16, V17.B16
	VUSHR $2, V4.B16, V6.B16 // bits 6..7
	VAND  V29.B16, V6.B16, V6.B16
	VORR  V6.B16, V18.B16, V18.B16
	VUSHR $2, V5.B16, V6.B16
	VAND  V29.B16, V6.B16, V6.B16
	VORR  V6.B16, V19.B16, V19.B16

	VSUB V30.B16, V0.B16, V0.B16
	VSUB V30.B16, V1.B16, V1.B16
	VSUB V30.B16, V2.B16, V2.B16
	VSUB V30.B16, V3.B16, V3.B16
	VSUB V30.B16, V16.B16, V16.B16
	VSUB V30.B16, V17.B16, V17.B16
	VSUB V30.B16, V18.B16, V18.B16
	VSUB V30.B16, V19.B16, V19.B16

	VLD1.P 64(R1), [V8.B16, V9.B16, V10.B16, V11.B16]
	VLD1.P 64(R1), [V12.B16, V13.B16, V14.B16, V15.B16]
	ZERO4(V20, V21, V22, V23)
	ZERO4(V24, V25, V26, V27)
	CBZ R5, q6kplain
	SDOT(20, 0, 8)
	SDOT(21, 1, 9)
	SDOT(22, 2, 10)
	SDOT(23, 3, 11)
	SDOT(24, 16, 12)
	SDOT(25, 17, 13)
	SDOT(26, 18, 14)
	SDOT(27, 19, 15)
	B   q6ksum

q6kplain:
	IDOT16(20, 0, 8, 4, 5)
	IDOT16(21, 1, 9, 4, 5)
	IDOT16(22, 2, 10, 4, 5)
	IDOT16(23, 3, 11, 4, 5)
	IDOT16(24, 16, 12, 4, 5)
	IDOT16(25, 17, 13, 4, 5)
	IDOT16(26, 18, 14, 4, 5)
	IDOT16(27, 19, 15, 4, 5)

q6ksum:
	VADDP V21.S4, V20.S4, V20.S4
	VADDP V23.S4, V22.S4, V22.S4
	VADDP V25.S4, V24.S4, V24.S4
	VADDP V27.S4, V26.S4, V26.S4
	VADDP V22.S4, V20.S4, V20.S4
	VADDP V26.S4, V24.S4, V21.S4
	VST1.P [V20.S4, V21.S4], 32(R3)
	SUBS $1, R6, R6
	BNE  q6khalf
	ADD  $210, R0
	SUBS $1, R2, R2
	BNE  q6kblock
	RET
