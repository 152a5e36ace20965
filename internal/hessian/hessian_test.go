package hessian

import (
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestInverseCholesky checks UᵀU against the inverse of the dampened matrix, that U is upper
// triangular, and the handling of dead columns and bad input.
func TestInverseCholesky(t *testing.T) {
	const n = 5
	h := make([]float64, n*n)
	for i := range n {
		for j := range n {
			h[i*n+j] = 1 / float64(1+i+j) // Hilbert: positive definite, ill-conditioned
		}
	}
	h[2*n+2] = 0 // column 2 dead: zero diagonal and row
	for j := range n {
		h[2*n+j], h[j*n+2] = 0, 0
	}
	u, dead, err := InverseCholesky(h, n, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0] != 2 {
		t.Fatalf("dead columns %v, want [2]", dead)
	}
	hd := mat.NewDense(n, n, append([]float64{}, h...))
	hd.Set(2, 2, 1)
	mean := 0.0
	for i := range n {
		mean += hd.At(i, i)
	}
	mean /= n
	for i := range n {
		hd.Set(i, i, hd.At(i, i)+0.01*mean)
	}
	var inv mat.Dense
	if err := inv.Inverse(hd); err != nil {
		t.Fatal(err)
	}
	U := mat.NewDense(n, n, u)
	var utu mat.Dense
	utu.Mul(U.T(), U)
	for i := range n {
		for j := range n {
			if j < i && u[i*n+j] != 0 {
				t.Fatalf("U[%d][%d] = %g below the diagonal", i, j, u[i*n+j])
			}
			if d := math.Abs(utu.At(i, j) - inv.At(i, j)); d > 1e-8*math.Max(1, math.Abs(inv.At(i, j))) {
				t.Fatalf("UᵀU[%d][%d] = %g, inverse %g", i, j, utu.At(i, j), inv.At(i, j))
			}
		}
	}
	h[1] = math.NaN()
	if _, _, err := InverseCholesky(h, n, 0.01); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN: got %v", err)
	}
	neg := []float64{1, 2, 2, 1}
	if _, _, err := InverseCholesky(neg, 2, 0); !errors.Is(err, ErrNotPositiveDefinite) {
		t.Errorf("indefinite: got %v", err)
	}
}

// TestPermute checks out[a][b] = h[perm[a]][perm[b]].
func TestPermute(t *testing.T) {
	h := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8}
	got := Permute(h, 3, []int{2, 0, 1})
	want := []float64{8, 6, 7, 2, 0, 1, 5, 3, 4}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
