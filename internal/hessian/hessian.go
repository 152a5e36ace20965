// Package hessian holds the linear algebra that the second-order compression methods share
// (SparseGPT in prune, GPTQ in quantize): the layer Hessian XᵀX, dampened, inverted and
// factored as H⁻¹ = UᵀU, whose upper factor U carries each column's error to the columns after
// it.
package hessian

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ErrNotPositiveDefinite is wrapped when XᵀX (or its inverse) cannot be factored even after
// dampening: the caller's statistics are unusable.
var ErrNotPositiveDefinite = errors.New("not positive definite")

// ErrNonFinite is wrapped when XᵀX holds a NaN or an infinity.
var ErrNonFinite = errors.New("non-finite value")

// InverseCholesky dampens a copy of h (n × n, row-major, symmetric; only the upper triangle is
// read) by damp times its mean diagonal and returns the upper Cholesky factor U of its inverse
// (row-major, H⁻¹ = UᵀU) and the indices of dead columns (zero diagonal: inputs never seen),
// whose diagonal is set to 1 before dampening.
func InverseCholesky(h []float64, n int, damp float64) ([]float64, []int, error) {
	if len(h) != n*n {
		return nil, nil, fmt.Errorf("hessian: %d values for %d×%d", len(h), n, n)
	}
	hs := mat.NewSymDense(n, nil)
	var dead []int
	mean := 0.0
	for i := range n {
		for j := i; j < n; j++ {
			v := h[i*n+j]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("hessian: XᵀX holds %v at (%d, %d): %w", v, i, j, ErrNonFinite)
			}
			hs.SetSym(i, j, v)
		}
		if h[i*n+i] == 0 {
			dead = append(dead, i)
			hs.SetSym(i, i, 1)
		}
		mean += hs.At(i, i)
	}
	mean /= float64(n)
	for i := range n {
		hs.SetSym(i, i, hs.At(i, i)+damp*mean)
	}
	var c mat.Cholesky
	if !c.Factorize(hs) {
		return nil, nil, fmt.Errorf("hessian: XᵀX is %w even after dampening by %g of its mean diagonal", ErrNotPositiveDefinite, damp)
	}
	var inv mat.SymDense
	if err := c.InverseTo(&inv); err != nil {
		return nil, nil, fmt.Errorf("hessian: inverting XᵀX: %w", err)
	}
	var c2 mat.Cholesky
	if !c2.Factorize(&inv) {
		return nil, nil, fmt.Errorf("hessian: the inverse of XᵀX is %w (ill-conditioned; raise the dampening)", ErrNotPositiveDefinite)
	}
	var ut mat.TriDense
	c2.UTo(&ut)
	u := make([]float64, n*n)
	for i := range n {
		for j := i; j < n; j++ {
			u[i*n+j] = ut.At(i, j)
		}
	}
	return u, dead, nil
}

// Permute returns h (n × n, row-major) with rows and columns reordered: out[a][b] =
// h[perm[a]][perm[b]].
func Permute(h []float64, n int, perm []int) []float64 {
	out := make([]float64, n*n)
	for a, pa := range perm {
		row := h[pa*n : (pa+1)*n]
		o := out[a*n : (a+1)*n]
		for b, pb := range perm {
			o[b] = row[pb]
		}
	}
	return out
}
