package autograd

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// gemmRef is the textbook triple loop, in float64.
func gemmRef(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				var av, bv float64
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 2*rng.Float64() - 1
	}
	return s
}

// TestGEMMMatchesReference runs every kernel this CPU has (the portable one and the SIMD
// ones) against the triple loop, with ragged sizes, transposes, strides, alpha and beta.
func TestGEMMMatchesReference(t *testing.T) {
	kernels := append([]gemmKernel[float32]{portable32}, simdKernels()...)
	saved := kernel32
	defer func() { kernel32 = saved }()
	for _, k := range kernels {
		t.Logf("kernel %s", k.name)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {65, 257, 3}, {70, 33, 300}, {129, 7, 513}, {5, 6, 0}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range [][2]float64{{1, 0}, {0.5, 1}, {-2, 0.25}, {0, 2}} {
				m, n, k := sz[0], sz[1], sz[2]
				name := fmt.Sprintf("%dx%dx%d/trans%v/alpha%v,beta%v", m, n, k, tr, ab[0], ab[1])
				// Padded strides, to catch stride bugs.
				lda, ldb, ldc := k+3, n+2, n+5
				if tr[0] {
					lda = m + 3
				}
				if tr[1] {
					ldb = k + 2
				}
				rows := func(trans bool, r, c int) int {
					if trans {
						return c
					}
					return r
				}
				a := randSlice(rng, rows(tr[0], m, k)*lda)
				b := randSlice(rng, rows(tr[1], k, n)*ldb)
				c := randSlice(rng, m*ldc)
				want := slices.Clone(c)
				gemmRef(tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
				got := slices.Clone(c)
				gemm(2, tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
				if e := relMax(got, want); e > 1e-13 {
					t.Errorf("%s: float64 differs from reference by %g", name, e)
				}
				a32, b32, c32 := conv32(a), conv32(b), conv32(c)
				for _, kern := range kernels {
					kernel32 = kern
					var first []float32
					for _, th := range []int{1, 2, 5} {
						got32 := slices.Clone(c32)
						gemm(th, tr[0], tr[1], m, n, k, float32(ab[0]), a32, lda, b32, ldb, float32(ab[1]), got32, ldc)
						if e := relMax(got32, want); e > 2e-5 {
							t.Errorf("%s: float32 kernel %s (%d threads) differs from reference by %g", name, kern.name, th, e)
						}
						if th == 1 {
							first = got32
						} else if !slices.Equal(got32, first) {
							t.Errorf("%s: float32 kernel %s: result with %d threads differs from 1 thread", name, kern.name, th)
						}
					}
				}
				// Padding between rows of C must be untouched.
				for i := 0; i < m; i++ {
					for j := n; j < ldc && i*ldc+j < len(got); j++ {
						if got[i*ldc+j] != c[i*ldc+j] {
							t.Fatalf("%s: wrote C padding at row %d column %d", name, i, j)
						}
					}
				}
			}
		}
	}
}

func conv32(s []float64) []float32 {
	o := make([]float32, len(s))
	for i, v := range s {
		o[i] = float32(v)
	}
	return o
}

// TestGEMMBetaZeroIgnoresNaN checks that beta = 0 overwrites C (BLAS semantics), even NaN.
func TestGEMMBetaZeroIgnoresNaN(t *testing.T) {
	a := []float32{1, 2}
	b := []float32{3, 4}
	nan := float32(0)
	nan /= nan
	c := []float32{nan}
	gemm(1, false, false, 1, 1, 2, 1, a, 2, b, 1, 0, c, 1)
	if c[0] != 11 {
		t.Fatalf("C = %v, want 11", c[0])
	}
}
