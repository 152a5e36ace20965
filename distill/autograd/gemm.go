package autograd

import "sync"

// This file holds the one general matrix multiply every product in the package goes through:
//
//	C = alpha * op(A) * op(B) + beta * C
//
// with row-major storage, op(X) = X or Xᵀ. It is blocked and packed in the manner of
// BLIS/GotoBLAS: C is cut into tiles of gemmMC×gemmNC, each tile is computed by one task (one
// goroutine) that loops over K in slices of gemmKC, packs the slice of A into MR-row panels
// and the slice of B into NR-column panels, and calls the micro-kernel on every MR×NR
// sub-tile. The micro-kernel (gemmKernel) is the single place a SIMD implementation plugs in:
// see kernel32 and gemm_kernel.go.
//
// Determinism: each element of C is owned by exactly one task, and its value is
// beta*C + Σ_slices (Σ_p in order) regardless of how tasks are scheduled, so results are
// identical for every thread count.

const (
	gemmKC = 256 // K slice: a packed B panel (KC×NR) stays in L1, the packed B slice in L2
	gemmMC = 64  // rows of C per task
	gemmNC = 256 // columns of C per task
)

// gemmKernel is a micro-kernel: it adds to the mr×nr block of c (row stride ldc) the product of
// a packed A panel (kc steps of mr values: column p of the panel) and a packed B panel (kc
// steps of nr values: row p of the panel). The block is always complete: the driver hands
// edge tiles a scratch block.
type gemmKernel[T Float] struct {
	mr, nr int
	fn     func(kc int, a, b, c []T, ldc int)
}

// kernel32 is the float32 micro-kernel in use; gemm_kernel*.go may replace it with a SIMD one.
var kernel32 = gemmKernel[float32]{mr: 4, nr: 4, fn: kernel4x4[float32]}

// kernel64 is the float64 micro-kernel (gradient checks; speed is secondary).
var kernel64 = gemmKernel[float64]{mr: 4, nr: 4, fn: kernel4x4[float64]}

// gemmWorkspace holds one task's packed panels.
type gemmWorkspace[T Float] struct {
	a, b, c []T
}

var wsPool32, wsPool64 sync.Pool

func getWorkspace[T Float](mr, nr int) *gemmWorkspace[T] {
	var w *gemmWorkspace[T]
	if isF32[T]() {
		w, _ = wsPool32.Get().(*gemmWorkspace[T])
	} else {
		w, _ = wsPool64.Get().(*gemmWorkspace[T])
	}
	if w == nil {
		w = new(gemmWorkspace[T])
	}
	na := (gemmMC + mr) * gemmKC
	nb := (gemmNC + nr) * gemmKC
	if len(w.a) < na {
		w.a = make([]T, na)
	}
	if len(w.b) < nb {
		w.b = make([]T, nb)
	}
	if len(w.c) < mr*nr {
		w.c = make([]T, mr*nr)
	}
	return w
}

func putWorkspace[T Float](w *gemmWorkspace[T]) {
	if isF32[T]() {
		wsPool32.Put(w)
	} else {
		wsPool64.Put(w)
	}
}

// gemm computes C = alpha*op(A)*op(B) + beta*C on up to threads goroutines. C is m×n with row
// stride ldc; op(A) is m×k (A is stored m×k with stride lda, or k×m when transA); op(B) is k×n
// (B is k×n with stride ldb, or n×k when transB). When beta is 0, C need not be initialised.
// The caller guarantees the slices are long enough.
func gemm[T Float](threads int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	var kern gemmKernel[T]
	switch any(alpha).(type) {
	case float32:
		kern = any(kernel32).(gemmKernel[T])
	default:
		kern = any(kernel64).(gemmKernel[T])
	}
	tm := (m + gemmMC - 1) / gemmMC
	tn := (n + gemmNC - 1) / gemmNC
	if threads > 1 && 2*m*n*k < 1<<18 {
		threads = 1 // not worth a goroutine
	}
	parallelFor(threads, tm*tn, func(_, t int) {
		i0 := (t / tn) * gemmMC
		j0 := (t % tn) * gemmNC
		gemmTile(kern, transA, transB, i0, min(i0+gemmMC, m), j0, min(j0+gemmNC, n), k, alpha, a, lda, b, ldb, beta, c, ldc)
	})
}

// gemmTile computes rows [i0,i1) and columns [j0,j1) of C.
func gemmTile[T Float](kern gemmKernel[T], transA, transB bool, i0, i1, j0, j1, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	mt, nt := i1-i0, j1-j0
	// C = beta*C first; the kernels then only accumulate.
	if beta != 1 {
		for i := i0; i < i1; i++ {
			row := c[i*ldc+j0 : i*ldc+j1]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
	}
	if k <= 0 || alpha == 0 {
		return
	}
	mr, nr := kern.mr, kern.nr
	ws := getWorkspace[T](mr, nr)
	defer putWorkspace(ws)
	for p0 := 0; p0 < k; p0 += gemmKC {
		kc := min(gemmKC, k-p0)
		packB(transB, b, ldb, p0, kc, j0, nt, nr, ws.b)
		packA(transA, a, lda, p0, kc, i0, mt, mr, alpha, ws.a)
		for jr := 0; jr < nt; jr += nr {
			bp := ws.b[(jr/nr)*nr*kc:]
			nn := min(nr, nt-jr)
			for ir := 0; ir < mt; ir += mr {
				ap := ws.a[(ir/mr)*mr*kc:]
				mm := min(mr, mt-ir)
				co := (i0+ir)*ldc + j0 + jr
				if mm == mr && nn == nr {
					kern.fn(kc, ap, bp, c[co:], ldc)
					continue
				}
				tmp := ws.c[:mr*nr]
				clear(tmp)
				kern.fn(kc, ap, bp, tmp, nr)
				for i := 0; i < mm; i++ {
					dst := c[co+i*ldc : co+i*ldc+nn]
					for j, v := range tmp[i*nr : i*nr+nn] {
						dst[j] += v
					}
				}
			}
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
		for r := 0; r < mm; r++ {
			row := i0 + ir + r
			if trans {
				for p := 0; p < kc; p++ {
					panel[p*mr+r] = alpha * a[(p0+p)*lda+row]
				}
			} else {
				src := a[row*lda+p0 : row*lda+p0+kc]
				for p, v := range src {
					panel[p*mr+r] = alpha * v
				}
			}
		}
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
