package prune

import (
	"errors"
	"fmt"

	"github.com/mcompress/mcompress/internal/hessian"
	"github.com/mcompress/mcompress/internal/parallel"
	"gonum.org/v1/gonum/blas/blas64"
)

// SparseGPT prunes w in place by the method of Frantar and Alistarh (2023): with H the Gram
// matrix XᵀX of the layer's calibration inputs (cols × cols, row-major; any positive scale),
// dampened by Damp times its mean diagonal, and U the upper Cholesky factor of H⁻¹, the columns
// are visited in blocks of BlockSize. At the start of each block the weights with the smallest
// w²/U_jj² in the block are chosen for removal (the lowest Sparsity fraction of the block, or with
// a Pattern the smallest M−N of every group of M in each row, chosen when the group's first
// column is reached); each column's error (w−q)/U_jj is then spread over the block's later
// columns through row j of U, and after the block over all later columns at once (the lazy batch
// update). Columns whose diagonal of H is zero (inputs never seen) are removed outright.
//
// The result is deterministic: rows are independent and each is updated in a fixed order.
func SparseGPT(w Matrix, h []float64, o Options) (Stats, error) {
	if err := w.check(); err != nil {
		return Stats{}, err
	}
	n := w.Cols
	if len(h) != n*n {
		return Stats{}, fmt.Errorf("%w: XᵀX has %d values for a layer of %d input features (want %d)", ErrBadInput, len(h), n, n*n)
	}
	o = o.withDefaults()
	if err := o.Validate(n); err != nil {
		return Stats{}, err
	}
	u, dead, err := inverseCholesky(h, n, o.Damp)
	if err != nil {
		return Stats{}, err
	}
	rows := w.Rows
	W := make([]float64, rows*n)
	for i, v := range w.Data {
		W[i] = float64(v)
	}
	for r := range rows {
		for _, j := range dead {
			W[r*n+j] = 0
		}
	}
	errs := make([]float64, rows*o.BlockSize)
	losses := make([]float64, rows)
	for i1 := 0; i1 < n; i1 += o.BlockSize {
		i2 := min(i1+o.BlockSize, n)
		count := i2 - i1
		var mask []bool // rows × count, for unstructured sparsity
		if o.Pattern.IsZero() {
			score := make([]float64, rows*count)
			for r := range rows {
				for k := range count {
					d := u[(i1+k)*n+i1+k]
					v := W[r*n+i1+k]
					score[r*count+k] = v * v / (d * d)
				}
			}
			mask = maskByScore(score, Options{Sparsity: o.Sparsity})
		}
		parallel.For(0, rows, func(_, r int) {
			row := W[r*n : (r+1)*n]
			e := errs[r*o.BlockSize : r*o.BlockSize+count]
			var rowMask []bool
			if mask != nil {
				rowMask = mask[r*count : (r+1)*count]
			} else {
				rowMask = make([]bool, count)
			}
			score := make([]float64, o.Pattern.M)
			loss := 0.0
			for k := range count {
				j := i1 + k
				d := u[j*n+j]
				if !o.Pattern.IsZero() && k%o.Pattern.M == 0 {
					for t := range o.Pattern.M {
						dt := u[(j+t)*n+j+t]
						score[t] = row[j+t] * row[j+t] / (dt * dt)
					}
					for _, t := range lowest(score, o.Pattern.M-o.Pattern.N) {
						rowMask[k+t] = true
					}
				}
				wv := row[j]
				q := wv
				if rowMask[k] {
					q = 0
				}
				row[j] = q
				ek := (wv - q) / d
				e[k] = ek
				loss += ek * ek / 2
				if ek != 0 {
					for t := j + 1; t < i2; t++ {
						row[t] -= ek * u[j*n+t]
					}
				}
			}
			losses[r] += loss
			// The lazy batch update of the columns after the block: row[i2:] −= e · U[i1:i2, i2:].
			if i2 < n {
				y := blas64.Vector{N: n - i2, Inc: 1, Data: row[i2:]}
				for k := range count {
					if e[k] != 0 {
						x := blas64.Vector{N: n - i2, Inc: 1, Data: u[(i1+k)*n+i2 : (i1+k+1)*n]}
						blas64.Axpy(-e[k], x, y)
					}
				}
			}
		})
	}
	var st Stats
	for i, v := range W {
		w.Data[i] = float32(v)
	}
	for _, l := range losses {
		st.Loss += l
	}
	st.DeadColumns = len(dead)
	return st, nil
}

// Stats reports what SparseGPT did to a layer.
type Stats struct {
	// Loss is the paper's sum of ½((w−q)/U_jj)² over the layer: the increase of the layer's
	// squared reconstruction error, up to the scale of XᵀX, that the method accounts for.
	Loss float64
	// DeadColumns counts input features never active in the calibration data.
	DeadColumns int
}

// inverseCholesky is hessian.InverseCholesky (shared with GPTQ) with unusable statistics
// reported as bad input.
func inverseCholesky(h []float64, n int, damp float64) ([]float64, []int, error) {
	u, dead, err := hessian.InverseCholesky(h, n, damp)
	if errors.Is(err, hessian.ErrNonFinite) || errors.Is(err, hessian.ErrNotPositiveDefinite) {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return u, dead, err
}
