//go:build ignore

// This program generates simd_amd64.s and simd_amd64_stubs.go with avo (go generate runs it;
// see simd_amd64.go):
//
//	cd distill/autograd && go run simd_asm.go -out simd_amd64.s -stubs simd_amd64_stubs.go -pkg autograd
//
// The GEMM micro-kernels add to an MR×NR block of C (row stride ldc elements) the product of a
// packed A panel (kc steps of MR floats) and a packed B panel (kc steps of NR floats),
// accumulating in registers with fused multiply-adds in p order (see gemmKernel in gemm.go).
// The exponential kernel computes exp(scale·x − shift) sixteen lanes at a time (see expShift
// in mathx.go).
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	Package("github.com/mcompress/mcompress/distill/autograd")
	ConstraintExpr("amd64,!purego")
	kernel("kernel8x32AVX512", 8, 2, 64, ZMM)
	kernel("kernel6x16AVX2", 6, 2, 32, YMM)
	expShift()
	Generate()
}

// kernel emits an mr × (vecs·width) kernel; vbytes is the vector size in bytes and alloc
// allocates a vector register.
func kernel(name string, mr, vecs, vbytes int, alloc func() VecVirtual) {
	nr := vecs * vbytes / 4
	TEXT(name, NOSPLIT, "func(kc int, a, b, c []float32, ldc int)")
	Doc(fmt.Sprintf("%s adds to the %dx%d block of c the product of packed panels a (kc×%d) and b (kc×%d).", name, mr, nr, mr, nr))
	kc := Load(Param("kc"), GP64())
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	c := Load(Param("c").Base(), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc) // bytes

	acc := make([][]VecVirtual, mr)
	for r := range acc {
		acc[r] = make([]VecVirtual, vecs)
		for v := range acc[r] {
			acc[r][v] = alloc()
			VXORPS(acc[r][v], acc[r][v], acc[r][v])
		}
	}
	bv := make([]VecVirtual, vecs)
	for v := range bv {
		bv[v] = alloc()
	}
	bc := []VecVirtual{alloc(), alloc()}

	step := func() {
		for v := range bv {
			VMOVUPS(Mem{Base: b, Disp: v * vbytes}, bv[v])
		}
		for r := 0; r < mr; r++ {
			t := bc[r%2]
			VBROADCASTSS(Mem{Base: a, Disp: 4 * r}, t)
			for v := range bv {
				VFMADD231PS(bv[v], t, acc[r][v])
			}
		}
		ADDQ(Imm(uint64(4*mr)), a)
		ADDQ(Imm(uint64(4*nr)), b)
	}

	// Main loop unrolled by 4, then the remainder.
	Label(name + "_loop4")
	CMPQ(kc, Imm(4))
	JL(LabelRef(name + "_tail"))
	for i := 0; i < 4; i++ {
		step()
	}
	SUBQ(Imm(4), kc)
	JMP(LabelRef(name + "_loop4"))
	Label(name + "_tail")
	TESTQ(kc, kc)
	JE(LabelRef(name + "_store"))
	step()
	DECQ(kc)
	JMP(LabelRef(name + "_tail"))

	// C += acc, row by row.
	Label(name + "_store")
	for r := 0; r < mr; r++ {
		for v := 0; v < vecs; v++ {
			m := Mem{Base: c, Disp: v * vbytes}
			VADDPS(m, acc[r][v], acc[r][v])
			VMOVUPS(acc[r][v], m)
		}
		if r < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// f32 loads a float32 constant into all lanes of a new ZMM register.
func f32(v float32) VecVirtual {
	g := GP32()
	MOVL(U32(math.Float32bits(v)), g)
	z := ZMM()
	VPBROADCASTD(g, z)
	return z
}

// expShift emits expShiftAVX512: dst[i] = exp(scale·src[i] − shift) for the first
// len(src) &^ 15 elements, returning their sum. The argument is clamped to [−110, 100], the
// exponent split as n = round(x·log2 e), r = x − n·ln2 (in two parts), e^r evaluated with
// Cephes' degree-7 polynomial (relative error about 1e-7) and scaled by 2^n with VSCALEFPS,
// which gives 0 and +Inf at the ends of the range.
func expShift() {
	TEXT("expShiftAVX512", NOSPLIT, "func(dst, src []float32, scale, shift float32) float32")
	Doc("expShiftAVX512 sets dst[i] = exp(scale*src[i] - shift) for i < len(src)&^15 and returns their sum.")
	dst := Load(Param("dst").Base(), GP64())
	src := Load(Param("src").Base(), GP64())
	n := Load(Param("src").Len(), GP64())
	SHRQ(Imm(4), n)
	scale, shift := ZMM(), ZMM()
	// Broadcast straight from the arguments: Load would pick the legacy-SSE MOVSS, which
	// mixes SSE into AVX-512 code (internal/asmguard).
	VBROADCASTSS(paramAddr("scale"), scale)
	VBROADCASTSS(paramAddr("shift"), shift)
	lo, hi := f32(-110), f32(100)
	log2e := f32(1.44269504088896341)
	c1, c2 := f32(0.693359375), f32(-2.12194440e-4)
	p0, p1, p2 := f32(1.9875691500e-4), f32(1.3981999507e-3), f32(8.3334519073e-3)
	p3, p4, p5 := f32(4.1665795894e-2), f32(1.6666665459e-1), f32(5.0000001201e-1)
	one := f32(1)
	acc := ZMM()
	VXORPS(acc, acc, acc)

	Label("exp_loop")
	TESTQ(n, n)
	JE(LabelRef("exp_done"))
	x := ZMM()
	VMOVUPS(Mem{Base: src}, x)
	VFMSUB213PS(shift, scale, x) // x = scale·x − shift
	VMAXPS(lo, x, x)
	VMINPS(hi, x, x)
	k := ZMM()
	VMULPS(log2e, x, k)
	VRNDSCALEPS(Imm(0), k, k) // round to nearest
	VFNMADD231PS(c1, k, x)    // r = x − k·c1
	VFNMADD231PS(c2, k, x)    // r −= k·c2
	p := ZMM()
	VMOVAPS(p0, p)
	for _, c := range []VecVirtual{p1, p2, p3, p4, p5} {
		VFMADD213PS(c, x, p) // p = p·r + c
	}
	r2 := ZMM()
	VMULPS(x, x, r2)
	VFMADD213PS(x, r2, p) // p = p·r² + r
	VADDPS(one, p, p)     // + 1
	VSCALEFPS(k, p, p)    // · 2^k
	VMOVUPS(p, Mem{Base: dst})
	VADDPS(p, acc, acc)
	ADDQ(Imm(64), src)
	ADDQ(Imm(64), dst)
	DECQ(n)
	JMP(LabelRef("exp_loop"))

	Label("exp_done")
	y := YMM()
	VEXTRACTF64X4(Imm(1), acc, y)
	VADDPS(acc.AsY(), y, y)
	xr := XMM()
	VEXTRACTF128(Imm(1), y, xr)
	VADDPS(y.AsX(), xr, xr)
	VHADDPS(xr, xr, xr)
	VHADDPS(xr, xr, xr)
	VZEROUPPER() // before Store's legacy-SSE MOVSS
	Store(xr, ReturnIndex(0))
	RET()
}

// paramAddr returns the stack address of the named argument.
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}
