package codec

import (
	"encoding/binary"
	"math"
)

// q8K is ggml's Q8_K, the activation format of the K-quant dot products: super-blocks of 256
// weights in 292 bytes: float32 scale d, 256 int8 levels, 16 int16 sums of each 16 levels.
// Weight value: d*q. The importance matrix is ignored.
type q8K struct{}

func (q8K) BlockSize() int { return QKK }
func (q8K) TypeSize() int  { return 292 }

const q8KSize = 292

func (q8K) QuantizeRow(dst []byte, x, _ []float32) {
	for i := 0; i < len(x)/QKK; i++ {
		xb := x[i*QKK : i*QKK+QKK]
		y := dst[i*q8KSize : i*q8KSize+q8KSize]
		var max, amax float32
		for _, v := range xb {
			if a := abs32(v); a > amax {
				amax, max = a, v
			}
		}
		if amax == 0 {
			for j := range y {
				y[j] = 0
			}
			continue
		}
		iscale := -127 / max
		qs := y[4:260]
		for j, v := range xb {
			qs[j] = uint8(int8(min(127, nearestInt(iscale*v))))
		}
		for j := 0; j < 16; j++ {
			var sum int16
			for ii := 0; ii < 16; ii++ {
				sum += int16(int8(qs[16*j+ii]))
			}
			binary.LittleEndian.PutUint16(y[260+2*j:], uint16(sum))
		}
		binary.LittleEndian.PutUint32(y, math.Float32bits(1/iscale))
	}
}

func (q8K) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*q8KSize : i*q8KSize+q8KSize]
		d := math.Float32frombits(binary.LittleEndian.Uint32(b))
		y := dst[i*QKK : i*QKK+QKK]
		for j := range y {
			y[j] = d * float32(int8(b[4+j]))
		}
	}
}
