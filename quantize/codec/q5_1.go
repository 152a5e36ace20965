package codec

import (
	"encoding/binary"
)

// q5_1 is ggml's Q5_1: blocks of 32 weights, 24 bytes: F16 scale d, F16 minimum m, a
// little-endian uint32 with bit 4 of each level, 16 bytes of low nibbles; value q*d + m.
type q5_1 struct{}

func (q5_1) BlockSize() int { return QK }
func (q5_1) TypeSize() int  { return 24 }

func (q5_1) QuantizeRow(dst []byte, x, imatrix []float32) {
	if imatrix == nil {
		quantizeMinRef(dst, x, 31, 24)
		return
	}
	quantizeMinImpl(dst, x, imatrix, 31, 24)
}

func (q5_1) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK; i++ {
		b := src[i*24 : i*24+24]
		d, m := halfAt(b), halfAt(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		y := dst[i*QK : i*QK+QK]
		for j := range y {
			y[j] = float32(float32(unpack5(qh, b[8:], j))*d) + m
		}
	}
}
