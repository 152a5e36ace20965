package codec

import (
	"encoding/binary"
)

// q5_0 is ggml's Q5_0: blocks of 32 weights, 22 bytes: F16 scale d, a little-endian uint32
// with bit 4 of each level, 16 bytes of low nibbles; value (q-16)*d.
type q5_0 struct{}

func (q5_0) BlockSize() int { return QK }
func (q5_0) TypeSize() int  { return 22 }

func (q5_0) QuantizeRow(dst []byte, x, imatrix []float32) {
	var L [QK]uint8
	if imatrix == nil {
		// quantize_row_q5_0_ref: d = max/-16.
		for i := 0; i < len(x)/QK; i++ {
			xb := x[i*QK : i*QK+QK]
			var amax, max float32
			for _, v := range xb {
				if a := abs32(v); amax < a {
					amax, max = a, v
				}
			}
			d := max / -16
			var id float32
			if d != 0 {
				id = 1 / d
			}
			y := dst[i*22 : i*22+22]
			put16(y, fp16(d))
			for j, v := range xb {
				L[j] = uint8(min(31, int8(float32(v*id)+16.5)))
			}
			packLevels(y[2:], &L, true)
		}
		return
	}
	// quantize_row_q5_0_impl.
	var sumX2 float32
	for _, v := range x {
		sumX2 += float32(v * v)
	}
	sigma2 := sumX2 / float32(len(x))
	var weight [QK]float32
	var Ls [QK]int8
	for ib := 0; ib < len(x)/QK; ib++ {
		xb := x[ib*QK : ib*QK+QK]
		qw := imatrix[ib*QK : ib*QK+QK]
		for j := range weight {
			weight[j] = qw[j] * sqrt32(sigma2+float32(xb[j]*xb[j]))
		}
		d := makeQxQuants(QK, 16, xb, Ls[:], weight[:])
		y := dst[ib*22 : ib*22+22]
		put16(y, fp16(d))
		for j := range L {
			L[j] = uint8(Ls[j])
		}
		packLevels(y[2:], &L, true)
	}
}

func (q5_0) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK; i++ {
		b := src[i*22 : i*22+22]
		d := halfAt(b)
		qh := binary.LittleEndian.Uint32(b[2:])
		y := dst[i*QK : i*QK+QK]
		for j := range y {
			y[j] = float32(int32(unpack5(qh, b[6:], j))-16) * d
		}
	}
}
