package kernels

import (
	"fmt"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize/codec"
)

// Matrix is a weight matrix stored as ggml stores it: Rows rows of Cols values of type Type,
// each row RowBytes long, contiguous. Data usually points into a memory-mapped file.
type Matrix struct {
	Type       gguf.TensorType
	Rows, Cols int
	Data       []byte
}

// NewMatrix checks that data holds rows x cols values of type t and returns the Matrix.
func NewMatrix(t gguf.TensorType, rows, cols int, data []byte) (Matrix, error) {
	if !Supported(t) {
		return Matrix{}, fmt.Errorf("kernels: no kernel for tensor type %s", t)
	}
	if rows <= 0 || cols <= 0 {
		return Matrix{}, fmt.Errorf("kernels: matrix %dx%d has no elements", rows, cols)
	}
	k := kernels[t]
	if cols%k.codec.BlockSize() != 0 || (k.act == ActQ8K && cols%QK_K != 0) || (k.act == ActQ8 && cols%QK8 != 0) {
		return Matrix{}, fmt.Errorf("kernels: %s matrix with %d columns: not a multiple of the block size", t, cols)
	}
	rb := int64(codec.RowSize(k.codec, cols))
	if int64(len(data)) != rb*int64(rows) {
		return Matrix{}, fmt.Errorf("kernels: %s matrix %dx%d needs %d bytes, got %d", t, rows, cols, rb*int64(rows), len(data))
	}
	return Matrix{Type: t, Rows: rows, Cols: cols, Data: data}, nil
}

// RowBytes returns the size of one row in bytes.
func (m Matrix) RowBytes() int { return codec.RowSize(kernels[m.Type].codec, m.Cols) }

// Row dequantizes row r into dst (len Cols) with the type's codec.
func (m Matrix) Row(r int, dst []float32) {
	rb := m.RowBytes()
	kernels[m.Type].codec.DequantizeRow(dst[:m.Cols], m.Data[r*rb:(r+1)*rb])
}

// rowTile is the number of weight rows a worker multiplies with every token before moving on:
// small enough that the rows stay in the L1/L2 cache while the activations stream past.
const rowTile = 16

// MatMul computes dst[t*w.Rows+r] = sum_c W[r,c]*x[t,c] for every token t of x, splitting the
// rows of w over the pool's workers. x.N must equal w.Cols and dst hold x.Ntok*w.Rows values.
// The result does not depend on the number of workers.
func MatMul(p *Pool, dst []float32, w Matrix, x *Acts) {
	k := kernels[w.Type]
	x.prepare(k.act, p)
	rows, ntok, n := w.Rows, x.Ntok, x.N
	_ = dst[ntok*rows-1]
	t0 := 0
	if gk := k.g16Fn(); gk != nil && ntok >= groupMin {
		ng := ntok / groupTokens
		if ntok%groupTokens >= groupMin/2 {
			ng++ // a last, partly empty group rather than the four-token kernels
		}
		matMulGroups(p, dst, w, x, gk, ng)
		t0 = min(ntok, ng*groupTokens)
		if t0 == ntok {
			return
		}
	}
	dot, dot4, tile4 := k.dotFn(), k.dot4Fn(), k.tile4Fn()
	rb := w.RowBytes()
	p.For((rows+rowTile-1)/rowTile, ChunkFor(rowTile*n*(ntok-t0)), func(lo, hi int) {
		var r row
		var o4 [4]float32
		for tile := lo; tile < hi; tile++ {
			r0, r1 := tile*rowTile, min(rows, (tile+1)*rowTile)
			t := t0
			for ; dot4 != nil && t+4 <= ntok; t += 4 {
				x.row(k.act, t, &r)
				i := r0
				for ; tile4 != nil && i+4 <= r1; i += 4 {
					tile4(w.Data[i*rb:(i+4)*rb], rb, &r, n, dst[t*rows+i:], rows)
				}
				for ; i < r1; i++ {
					dot4(w.Data[i*rb:(i+1)*rb], &r, n, &o4)
					dst[t*rows+i] = o4[0]
					dst[(t+1)*rows+i] = o4[1]
					dst[(t+2)*rows+i] = o4[2]
					dst[(t+3)*rows+i] = o4[3]
				}
			}
			for ; t < ntok; t++ {
				x.row(k.act, t, &r)
				out := dst[t*rows : (t+1)*rows]
				for i := r0; i < r1; i++ {
					out[i] = dot(w.Data[i*rb:(i+1)*rb], &r)
				}
			}
		}
	})
}

// groupMin is the fewest tokens for which MatMul takes a type's 16-token path.
const groupMin = 16
