package quantize

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/hessian"
	"github.com/mcompress/mcompress/internal/parallel"
	"github.com/mcompress/mcompress/quantize/codec"
)

// GPTQOptions configure GPTQ. The zero value is the paper's defaults in natural order.
type GPTQOptions struct {
	// BlockSize is the column block of the lazy batch updates (128 when zero).
	BlockSize int
	// Damp is the dampening added to the diagonal of XᵀX, a fraction of its mean diagonal
	// (0.01 when zero).
	Damp float64
	// ActOrder visits the columns by descending diagonal of XᵀX (largest input energy first)
	// instead of left to right. The output is in the original column order either way.
	ActOrder bool
	// Search fits each block's scales with the stronger search of SearchBlock instead of the
	// type's reference quantizer.
	Search bool
	// Threads is the number of goroutines over the rows (0: GOMAXPROCS). The output does not
	// depend on it.
	Threads int
}

func (o GPTQOptions) withDefaults() GPTQOptions {
	if o.BlockSize <= 0 {
		o.BlockSize = 128
	}
	if o.Damp <= 0 {
		o.Damp = 0.01
	}
	return o
}

// GPTQStats report what GPTQ did to one matrix.
type GPTQStats struct {
	// Loss is the sum of ½((w−q)/U_jj)² over the matrix: the increase of the layer's squared
	// output error, in the units of XᵀX, that the method accounts for.
	Loss float64
	// DeadColumns counts input features never active in the calibration data (set to zero).
	DeadColumns int
}

// GPTQ quantizes the matrix w (rows of cols weights, row-major, GGUF row order) to type t into
// dst (RowSize bytes per row) by the method of Frantar et al. (2023) inside ggml's block
// formats. With H = XᵀX of the layer's inputs (cols × cols, row-major; any positive scale),
// dampened, and U the upper Cholesky factor of H⁻¹, the columns are visited in order (or by
// descending diag(H) with ActOrder) in batches of BlockSize. When the first column of a ggml
// block (32 or 256 weights of a row, in the original column order) is reached, the block's
// scales and mins are fitted to the current, already-updated weights of all its columns,
// weighted by imatrix (one importance per column) or, when imatrix is nil, by diag(H); they
// then stay fixed, and each column is rounded to the nearest level of its block and its error
// (w−q)/U_jj spread over the columns not yet quantized through row j of U: at once within the
// batch, after the batch over the rest (the lazy batch update). The bytes are the type's
// standard layout.
//
// Rows are independent and each is processed in a fixed order, so the output does not depend
// on the thread count.
func GPTQ(t gguf.TensorType, dst []byte, w []float32, cols int, h []float64, imatrix []float32, o GPTQOptions) (GPTQStats, error) {
	g, ok := codec.LookupGrid(t)
	if !ok {
		return GPTQStats{}, invalidf("gptq: type %s has no block grid (GPTQ supports Q4_0 … Q8_0, Q2_K … Q6_K, IQ4_NL, IQ4_XS)", t)
	}
	o = o.withDefaults()
	n := cols
	bs, ts := g.BlockSize(), g.TypeSize()
	switch {
	case n <= 0 || len(w)%n != 0 || len(w) == 0:
		return GPTQStats{}, invalidf("gptq: %d weights are not whole rows of %d", len(w), n)
	case n%bs != 0:
		return GPTQStats{}, invalidf("gptq: %s: row length %d is not a multiple of the block size %d", t, n, bs)
	case len(h) != n*n:
		return GPTQStats{}, invalidf("gptq: XᵀX has %d values for rows of %d (want %d)", len(h), n, n*n)
	case imatrix != nil && len(imatrix) != n:
		return GPTQStats{}, invalidf("gptq: importance matrix has %d weights for rows of %d", len(imatrix), n)
	}
	rows := len(w) / n
	rowBytes := n / bs * ts
	if len(dst) != rows*rowBytes {
		return GPTQStats{}, invalidf("gptq: %s: %d weights need %d bytes, buffer has %d", t, len(w), rows*rowBytes, len(dst))
	}
	if i := firstNonFinite(w); i >= 0 {
		return GPTQStats{}, invalidf("gptq: weight %d (row %d, column %d) is %v: %w", i, i/n, i%n, w[i], ErrNonFinite)
	}
	if i := firstNonFinite(imatrix); i >= 0 {
		return GPTQStats{}, invalidf("gptq: importance weight %d is %v: %w", i, imatrix[i], ErrNonFinite)
	}

	perm := columnOrder(h, n, o.ActOrder)
	inv := make([]int, n)
	for k, j := range perm {
		inv[j] = k
	}
	hp := h
	if o.ActOrder {
		hp = hessian.Permute(h, n, perm)
	}
	u, dead, err := hessian.InverseCholesky(hp, n, o.Damp)
	if err != nil {
		if errors.Is(err, hessian.ErrNonFinite) || errors.Is(err, hessian.ErrNotPositiveDefinite) {
			return GPTQStats{}, invalid(fmt.Errorf("gptq: %w", err))
		}
		return GPTQStats{}, fmt.Errorf("gptq: %w", err)
	}
	imp := blockImportance(imatrix, h, n, bs)

	// W holds the rows in visiting order, in float64.
	W := make([]float64, rows*n)
	for r := range rows {
		src, row := w[r*n:(r+1)*n], W[r*n:(r+1)*n]
		for k, j := range perm {
			row[k] = float64(src[j])
		}
		for _, k := range dead {
			row[k] = 0
		}
	}
	nb := n / bs
	fitted := make([]bool, rows*nb)
	B := o.BlockSize
	E := make([]float64, rows*B)
	losses := make([]float64, rows)
	threads := parallel.Workers(o.Threads)
	xs := make([][]float32, threads)
	for i1 := 0; i1 < n; i1 += B {
		i2 := min(i1+B, n)
		parallel.For(threads, rows, func(worker, r int) {
			if xs[worker] == nil {
				xs[worker] = make([]float32, bs)
			}
			x := xs[worker]
			row := W[r*n : (r+1)*n]
			e := E[r*B : r*B+i2-i1]
			out := dst[r*rowBytes : (r+1)*rowBytes]
			loss := 0.0
			for k := i1; k < i2; k++ {
				j := perm[k]
				gb := j / bs
				blk := out[gb*ts : (gb+1)*ts]
				if !fitted[r*nb+gb] {
					// The block's current weights: those in this batch are up to date, those
					// after it still owe this batch's updates so far.
					for c := range bs {
						p := inv[gb*bs+c]
						v := row[p]
						if p >= i2 {
							for kk := i1; kk < k; kk++ {
								v -= e[kk-i1] * u[kk*n+p]
							}
						}
						x[c] = float32(v)
					}
					fitBlock(g, blk, x, imp[gb*bs:(gb+1)*bs], o.Search)
					fitted[r*nb+gb] = true
				}
				q := float64(g.Snap(blk, j%bs, float32(row[k])))
				ek := (row[k] - q) / u[k*n+k]
				e[k-i1] = ek
				row[k] = q
				loss += ek * ek / 2
				if ek != 0 {
					uk := u[k*n : (k+1)*n]
					for p := k + 1; p < i2; p++ {
						row[p] -= ek * uk[p]
					}
				}
			}
			losses[r] += loss
			// The lazy batch update: row[i2:] −= e · U[i1:i2, i2:].
			if i2 < n {
				rest := row[i2:]
				for kk, ek := range e {
					if ek == 0 {
						continue
					}
					uk := u[(i1+kk)*n+i2 : (i1+kk+1)*n]
					for p, uv := range uk {
						rest[p] -= ek * uv
					}
				}
			}
		})
	}
	st := GPTQStats{DeadColumns: len(dead)}
	for _, l := range losses {
		st.Loss += l
	}
	return st, nil
}

// fitBlock fits one block's scales with the type's quantizer or, with search, SearchBlock.
func fitBlock(g codec.Grid, blk []byte, x, w []float32, search bool) {
	if search {
		codec.SearchBlock(g, blk, x, w)
		return
	}
	g.FitBlock(blk, x, w)
}

// columnOrder is the order GPTQ visits the columns in: natural, or by descending diag(H) with
// ties in column order (act-order).
func columnOrder(h []float64, n int, actOrder bool) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	if actOrder {
		sort.SliceStable(perm, func(a, b int) bool { return h[perm[a]*n+perm[a]] > h[perm[b]*n+perm[b]] })
	}
	return perm
}

// blockImportance returns the importance of every column for the block fits: the imatrix when
// given, else diag(H) scaled to a maximum of 1 (the imatrix is diag(H)/count up to the
// collection's chunking). A block whose importances are all zero gets nil-equivalent uniform
// weights so that the weighted searches stay defined.
func blockImportance(imatrix []float32, h []float64, n, bs int) []float32 {
	imp := make([]float32, n)
	if imatrix != nil {
		copy(imp, imatrix)
	} else {
		top := 0.0
		for j := range n {
			top = max(top, h[j*n+j])
		}
		for j := range n {
			if top > 0 {
				imp[j] = float32(h[j*n+j] / top)
			}
		}
	}
	for b := 0; b < n; b += bs {
		zero := true
		for _, v := range imp[b : b+bs] {
			if v > 0 {
				zero = false
				break
			}
		}
		if zero {
			for j := b; j < b+bs; j++ {
				imp[j] = 1
			}
		}
	}
	return imp
}

// OutputError returns Σ_r Δ_r H Δ_rᵀ with Δ = wq − w (rows of cols weights) and H = XᵀX
// (cols × cols): the squared Frobenius norm ‖(W − Ŵ)Xᵀ‖² of the layer's output error on the
// calibration inputs whose Gram matrix H is.
func OutputError(w, wq []float32, cols int, h []float64) float64 {
	total := 0.0
	d := make([]float64, cols)
	for r := 0; r < len(w)/cols; r++ {
		for j := range d {
			d[j] = float64(wq[r*cols+j]) - float64(w[r*cols+j])
		}
		for i, di := range d {
			if di == 0 {
				continue
			}
			hi := h[i*cols : (i+1)*cols]
			s := 0.0
			for j, dj := range d {
				s += hi[j] * dj
			}
			total += di * s
		}
	}
	if math.IsNaN(total) {
		return math.Inf(1)
	}
	return total
}
