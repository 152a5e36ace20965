package autograd

import (
	"sync"

	"github.com/mcompress/mcompress/internal/parallel"
)

// This file holds the one general matrix multiply every product in the package goes through:
//
//	C = alpha * op(A) * op(B) + beta * C
//
// with row-major storage, op(X) = X or Xᵀ. It is blocked and packed in the manner of
// BLIS/GotoBLAS: for each block of nc columns and each slice of kc steps of K, the slice of
// B is packed once into NR-column micro-panels (shared, read-only); then tasks, one per tile
// of mc rows (and, when rows are few, a share of the columns), pack their slice of A into
// MR-row micro-panels and call the micro-kernel on every MR×NR sub-tile. The micro-kernel
// (gemmKernel) is the single place a SIMD implementation plugs in: see kernel32,
// gemm_kernel.go (portable) and gemm_kernel_amd64.go (AVX2 and AVX-512, generated with avo).
//
// Determinism: each element of C is owned by exactly one task in each slice, and its value is
// beta*C + Σ_slices (Σ_p in order) however tasks are scheduled, so results are identical for
// every thread count.

// gemmKernel is a micro-kernel and the blocking that suits it. fn adds to the mr×nr block of c
// (row stride ldc) the product of a packed A panel (kc steps of mr values: column p of the
// panel) and a packed B panel (kc steps of nr values: row p of the panel). The block is always
// complete: the driver hands edge tiles a scratch block. mc (a multiple of mr) is the number
// of rows of C per task, nc (a multiple of nr) the columns packed at a time, and kc the slice
// of K, chosen so that a B micro-panel (kc×nr) stays in L1 and a packed A block (mc×kc) in L2.
type gemmKernel[T Float] struct {
	name       string
	mr, nr     int
	mc, nc, kc int
	fn         func(kc int, a, b, c []T, ldc int)
}

// kernel32 is the float32 micro-kernel in use: the portable one unless gemm_kernel_amd64.go
// found a SIMD one for this CPU.
var kernel32 = portable32

// portable32 is the pure-Go float32 kernel, the twin the SIMD kernels are tested against.
var portable32 = gemmKernel[float32]{name: "go 4x4", mr: 4, nr: 4, mc: 64, nc: 1024, kc: 256, fn: kernel4x4[float32]}

// kernel64 is the float64 micro-kernel (gradient checks; speed is secondary).
var kernel64 = gemmKernel[float64]{name: "go 4x4", mr: 4, nr: 4, mc: 64, nc: 1024, kc: 256, fn: kernel4x4[float64]}

// GEMMKernel names the float32 matrix-multiply micro-kernel this process uses (for example
// "avx512 8x32" or "go 4x4"). Results are identical for any thread count, but kernels differ
// in rounding (fused multiply-adds, summation blocking), so different CPUs may give results
// that differ in the last bits.
func GEMMKernel() string { return kernel32.name }

// gemmScratch holds a task's packed A block and edge tile.
type gemmScratch[T Float] struct {
	a, c []T
}

// gemmBufs is the packed B block shared by the tasks of one gemm call.
type gemmBufs[T Float] struct {
	b []T
}

var (
	scratchPool32, scratchPool64 sync.Pool
	bPool32, bPool64             sync.Pool
)

func pools[T Float]() (scratch, b *sync.Pool) {
	if isF32[T]() {
		return &scratchPool32, &bPool32
	}
	return &scratchPool64, &bPool64
}

func getScratch[T Float](k *gemmKernel[T]) *gemmScratch[T] {
	sp, _ := pools[T]()
	w, _ := sp.Get().(*gemmScratch[T])
	if w == nil {
		w = new(gemmScratch[T])
	}
	if n := k.mc * k.kc; len(w.a) < n {
		w.a = make([]T, n)
	}
	if len(w.c) < k.mr*k.nr {
		w.c = make([]T, k.mr*k.nr)
	}
	return w
}

// gemm computes C = alpha*op(A)*op(B) + beta*C on up to threads goroutines. C is m×n with row
// stride ldc; op(A) is m×k (A is stored m×k with stride lda, or k×m when transA); op(B) is k×n
// (B is k×n with stride ldb, or n×k when transB). When beta is 0, C need not be initialised
// (BLAS semantics: NaNs in C are overwritten). The caller guarantees the slices are long
// enough.
func gemm[T Float](threads int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	var kern *gemmKernel[T]
	switch kk := any(&kernel32).(type) {
	case *gemmKernel[T]:
		kern = kk
	default:
		kern = any(&kernel64).(*gemmKernel[T])
	}
	if 2*m*n*k < 1<<18 {
		threads = 1 // not worth a goroutine
	}
	if k <= 0 || alpha == 0 {
		if beta != 1 {
			parallel.Range(threads, m, rowChunk(n), func(_, lo, hi int) {
				scaleRows(c, ldc, lo, hi, 0, n, beta)
			})
		}
		return
	}
	mr, nr, mc := kern.mr, kern.nr, kern.mc
	tm := (m + mc - 1) / mc
	_, bp := pools[T]()
	bufs, _ := bp.Get().(*gemmBufs[T])
	if bufs == nil {
		bufs = new(gemmBufs[T])
	}
	defer bp.Put(bufs)
	for j0 := 0; j0 < n; j0 += kern.nc {
		nb := min(kern.nc, n-j0)
		panels := (nb + nr - 1) / nr
		// Split the columns too when there are few row tiles, so every thread has work.
		tn := min(panels, max(1, (4*threads+tm-1)/tm))
		per := (panels + tn - 1) / tn // panels per task
		tn = (panels + per - 1) / per
		if need := panels * nr * kern.kc; len(bufs.b) < need {
			bufs.b = make([]T, need)
		}
		for p0 := 0; p0 < k; p0 += kern.kc {
			kc := min(kern.kc, k-p0)
			bpack := bufs.b[:panels*nr*kc]
			parallel.Range(threads, panels, max(1, 4096/(nr*kc)), func(_, lo, hi int) {
				packB(transB, b, ldb, p0, kc, j0+lo*nr, min(nb, hi*nr)-lo*nr, nr, bpack[lo*nr*kc:])
			})
			first := p0 == 0
			parallel.For(threads, tm*tn, func(_, t int) {
				i0 := (t / tn) * mc
				mt := min(mc, m-i0)
				q0, q1 := (t%tn)*per, min(panels, (t%tn+1)*per) // this task's B panels
				if first && beta != 1 {
					scaleRows(c, ldc, i0, i0+mt, j0+q0*nr, j0+min(nb, q1*nr), beta)
				}
				ws := getScratch(kern)
				packA(transA, a, lda, p0, kc, i0, mt, mr, alpha, ws.a)
				for q := q0; q < q1; q++ {
					bpanel := bpack[q*nr*kc:]
					jr := q * nr
					nn := min(nr, nb-jr)
					for ir := 0; ir < mt; ir += mr {
						apanel := ws.a[(ir/mr)*mr*kc:]
						mm := min(mr, mt-ir)
						co := (i0+ir)*ldc + j0 + jr
						if mm == mr && nn == nr {
							kern.fn(kc, apanel, bpanel, c[co:], ldc)
							continue
						}
						tmp := ws.c[:mr*nr]
						clear(tmp)
						kern.fn(kc, apanel, bpanel, tmp, nr)
						for i := 0; i < mm; i++ {
							dst := c[co+i*ldc : co+i*ldc+nn]
							for j, v := range tmp[i*nr : i*nr+nn] {
								dst[j] += v
							}
						}
					}
				}
				sp, _ := pools[T]()
				sp.Put(ws)
			})
		}
	}
}

// scaleRows multiplies C[i0:i1, j0:j1] by beta (beta 0 stores zeros).
func scaleRows[T Float](c []T, ldc, i0, i1, j0, j1 int, beta T) {
	for i := i0; i < i1; i++ {
		row := c[i*ldc+j0 : i*ldc+j1]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// packA copies alpha*op(A)[i0:i0+mt, p0:p0+kc] into panels of mr rows: panel q holds, for each
// p, the mr values op(A)[i0+q*mr+r, p0+p] (zero past the edge).
func packA[T Float](trans bool, a []T, lda, p0, kc, i0, mt, mr int, alpha T, dst []T) {
	for ir := 0; ir < mt; ir += mr {
		panel := dst[(ir/mr)*mr*kc : (ir/mr+1)*mr*kc]
		mm := min(mr, mt-ir)
		if mm < mr {
			clear(panel)
		}
		if trans {
			// Row p of the stored A holds column p of op(A): contiguous reads and writes.
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+ir : (p0+p)*lda+i0+ir+mm]
				d := panel[p*mr : p*mr+mm]
				if alpha == 1 {
					copy(d, src)
					continue
				}
				for r, v := range src {
					d[r] = alpha * v
				}
			}
			continue
		}
		if mm == mr && mr == 8 && alpha == 1 {
			packA8(a[(i0+ir)*lda+p0:], lda, kc, panel)
			continue
		}
		for r := 0; r < mm; r++ {
			row := i0 + ir + r
			src := a[row*lda+p0 : row*lda+p0+kc]
			for p, v := range src {
				panel[p*mr+r] = alpha * v
			}
		}
	}
}

// packA8 interleaves 8 rows of kc values (row stride lda) into panel, p-major.
func packA8[T Float](a []T, lda, kc int, panel []T) {
	r0, r1, r2, r3 := a[:kc], a[lda:lda+kc], a[2*lda:2*lda+kc], a[3*lda:3*lda+kc]
	r4, r5, r6, r7 := a[4*lda:4*lda+kc], a[5*lda:5*lda+kc], a[6*lda:6*lda+kc], a[7*lda:7*lda+kc]
	panel = panel[:8*kc]
	for p := range r0 {
		d := panel[8*p : 8*p+8 : 8*p+8]
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nt] into panels of nr columns: panel q holds, for each p,
// the nr values op(B)[p0+p, j0+q*nr+j] (zero past the edge).
func packB[T Float](trans bool, b []T, ldb, p0, kc, j0, nt, nr int, dst []T) {
	for jr := 0; jr < nt; jr += nr {
		panel := dst[(jr/nr)*nr*kc : (jr/nr+1)*nr*kc]
		nn := min(nr, nt-jr)
		if nn < nr {
			clear(panel)
		}
		if trans {
			for j := 0; j < nn; j++ {
				src := b[(j0+jr+j)*ldb+p0 : (j0+jr+j)*ldb+p0+kc]
				for p, v := range src {
					panel[p*nr+j] = v
				}
			}
		} else {
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jr : (p0+p)*ldb+j0+jr+nn]
				copy(panel[p*nr:p*nr+nn], src)
			}
		}
	}
}
