// dotQ8_0cAVX2 as generated before the fix (runtime/kernels/kernels_amd64.s at b86c6f0): the
// legacy-SSE MOVQ SI, X1 between 256-bit VEX instructions cost 10x on Intel cores (issue 11).

// func dotQ8_0cAVX2(w *byte, q *int8, d *float32, nb4 int, c *float32)
// Requires: AVX, AVX2, F16C, FMA3, SSE2
TEXT ·dotQ8_0cAVX2(SB), NOSPLIT, $0-40
	MOVQ   w+0(FP), AX
	MOVQ   q+8(FP), CX
	MOVQ   d+16(FP), DX
	MOVQ   nb4+24(FP), BX
	VXORPS X0, X0, X0

dotQ8_0cAVX2_loop:
	TESTQ        BX, BX
	JE           dotQ8_0cAVX2_done
	VMOVDQU      2(AX), Y1
	VPSIGNB      Y1, Y1, Y2
	VMOVDQU      (CX), Y3
	VPSIGNB      Y1, Y3, Y3
	VPMADDUBSW   Y3, Y2, Y1
	VPMADDWD     words0001<>+0(SB), Y1, Y1
	VMOVDQU      36(AX), Y2
	VPSIGNB      Y2, Y2, Y3
	VMOVDQU      32(CX), Y4
	VPSIGNB      Y2, Y4, Y4
	VPMADDUBSW   Y4, Y3, Y2
	VPMADDWD     words0001<>+0(SB), Y2, Y2
	VMOVDQU      70(AX), Y3
	VPSIGNB      Y3, Y3, Y4
	VMOVDQU      64(CX), Y5
	VPSIGNB      Y3, Y5, Y5
	VPMADDUBSW   Y5, Y4, Y3
	VPMADDWD     words0001<>+0(SB), Y3, Y3
	VMOVDQU      104(AX), Y4
	VPSIGNB      Y4, Y4, Y5
	VMOVDQU      96(CX), Y6
	VPSIGNB      Y4, Y6, Y6
	VPMADDUBSW   Y6, Y5, Y4
	VPMADDWD     words0001<>+0(SB), Y4, Y4
	VPHADDD      Y2, Y1, Y1
	VPHADDD      Y4, Y3, Y2
	VPHADDD      Y2, Y1, Y1
	VEXTRACTI128 $0x01, Y1, X2
	VPADDD       X1, X2, X2
	VCVTDQ2PS    X2, X2
	MOVWQZX      (AX), SI
	MOVWQZX      34(AX), DI
	SHLQ         $0x10, DI
	ORQ          DI, SI
	MOVWQZX      68(AX), DI
	SHLQ         $0x20, DI
	ORQ          DI, SI
	MOVWQZX      102(AX), DI
	SHLQ         $0x30, DI
	ORQ          DI, SI
	MOVQ         SI, X1
	VCVTPH2PS    X1, X1
	VMULPS       (DX), X1, X1
	VFMADD231PS  X2, X1, X0
	ADDQ         $0x00000088, AX
	ADDQ         $0x00000080, CX
	ADDQ         $0x10, DX
	DECQ         BX
	JMP          dotQ8_0cAVX2_loop

dotQ8_0cAVX2_done:
	MOVQ    c+32(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET
