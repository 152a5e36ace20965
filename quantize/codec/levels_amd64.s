#include "textflag.h"

// func quantLevels(L *[32]uint8, x *[32]float32, iscale, lo, hi float32)
//
// For each of the 32 floats: v = min(max(iscale*x, lo), hi); level = bits(v + 1.5*2^23) -
// bits(1.5*2^23), a small signed integer; the 32 levels are packed to bytes with signed
// saturation (they are within -64..64).
TEXT ·quantLevels(SB), NOSPLIT, $0-28
	MOVQ   L+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVSS  iscale+16(FP), X0
	SHUFPS $0x00, X0, X0
	MOVSS  hi+24(FP), X1
	SHUFPS $0x00, X1, X1
	MOVSS  lo+20(FP), X2
	SHUFPS $0x00, X2, X2
	MOVL   $0x4b400000, AX
	MOVL   AX, X3
	PSHUFL $0x00, X3, X3
	MOVQ   $2, CX

loop:
	MOVUPS 0(SI), X4
	MOVUPS 16(SI), X5
	MOVUPS 32(SI), X6
	MOVUPS 48(SI), X7
	MULPS  X0, X4
	MULPS  X0, X5
	MULPS  X0, X6
	MULPS  X0, X7
	MAXPS  X2, X4
	MAXPS  X2, X5
	MAXPS  X2, X6
	MAXPS  X2, X7
	MINPS  X1, X4
	MINPS  X1, X5
	MINPS  X1, X6
	MINPS  X1, X7
	ADDPS  X3, X4
	ADDPS  X3, X5
	ADDPS  X3, X6
	ADDPS  X3, X7
	PSUBL  X3, X4
	PSUBL  X3, X5
	PSUBL  X3, X6
	PSUBL  X3, X7
	PACKSSLW X5, X4
	PACKSSLW X7, X6
	PACKSSWB X6, X4
	MOVOU  X4, 0(DI)
	ADDQ   $64, SI
	ADDQ   $16, DI
	DECQ   CX
	JNZ    loop
	RET
