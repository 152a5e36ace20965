package codec

// q4_0 is ggml's Q4_0: blocks of 32 weights, 18 bytes: F16 scale d, then 16 bytes of 4-bit
// levels q (weight j in the low nibble of byte j, weight j+16 in the high nibble), value
// (q-8)*d.
type q4_0 struct{}

func (q4_0) BlockSize() int { return QK }
func (q4_0) TypeSize() int  { return 18 }

func (q4_0) QuantizeRow(dst []byte, x, imatrix []float32) {
	if imatrix == nil {
		quantizeQ4_0Ref(dst, x)
		return
	}
	// quantize_row_q4_0_impl: weights from the importance matrix and the row's variance.
	var sumX2 float32
	for _, v := range x {
		sumX2 += float32(v * v)
	}
	sigma2 := sumX2 / float32(len(x))
	var weight [QK]float32
	var L [QK]int8
	for ib := 0; ib < len(x)/QK; ib++ {
		xb := x[ib*QK : ib*QK+QK]
		qw := imatrix[ib*QK : ib*QK+QK]
		for j := range weight {
			weight[j] = qw[j] * sqrt32(sigma2+float32(xb[j]*xb[j]))
		}
		d := makeQxQuants(QK, 8, xb, L[:], weight[:])
		y := dst[ib*18 : ib*18+18]
		put16(y, fp16(d))
		for j := 0; j < 16; j++ {
			y[2+j] = uint8(L[j]) | uint8(L[j+16])<<4
		}
	}
}

// quantizeQ4_0Ref is quantize_row_q4_0_ref: d = max/-8 where max is the value of largest
// magnitude.
func quantizeQ4_0Ref(dst []byte, x []float32) {
	for i := 0; i < len(x)/QK; i++ {
		xb := x[i*QK : i*QK+QK]
		var amax, max float32
		for _, v := range xb {
			if a := abs32(v); amax < a {
				amax, max = a, v
			}
		}
		d := max / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		y := dst[i*18 : i*18+18]
		put16(y, fp16(d))
		for j := 0; j < 16; j++ {
			x0 := float32(xb[j] * id)
			x1 := float32(xb[j+16] * id)
			xi0 := min(15, int8(x0+8.5))
			xi1 := min(15, int8(x1+8.5))
			y[2+j] = uint8(xi0) | uint8(xi1)<<4
		}
	}
}

func (q4_0) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK; i++ {
		b := src[i*18 : i*18+18]
		d := halfAt(b)
		y := dst[i*QK : i*QK+QK]
		for j := 0; j < 16; j++ {
			y[j] = float32(int32(b[2+j]&0x0f)-8) * d
			y[j+16] = float32(int32(b[2+j]>>4)-8) * d
		}
	}
}
