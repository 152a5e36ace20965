package codec

// q8_0 is ggml's Q8_0: blocks of 32 weights, 34 bytes: F16 scale d and 32 int8 levels; value
// q*d. The importance matrix is ignored, as in ggml.
type q8_0 struct{}

func (q8_0) BlockSize() int { return QK }
func (q8_0) TypeSize() int  { return 34 }

func (q8_0) QuantizeRow(dst []byte, x, _ []float32) {
	for i := 0; i < len(x)/QK; i++ {
		xb := x[i*QK : i*QK+QK]
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		y := dst[i*34 : i*34+34]
		put16(y, fp16(d))
		for j, v := range xb {
			y[2+j] = byte(int8(roundAway(v * id)))
		}
	}
}

func (q8_0) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK; i++ {
		b := src[i*34 : i*34+34]
		d := halfAt(b)
		y := dst[i*QK : i*QK+QK]
		for j := range y {
			y[j] = float32(int8(b[2+j])) * d
		}
	}
}
