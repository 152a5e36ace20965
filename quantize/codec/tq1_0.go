package codec

// tq1_0 is ggml's TQ1_0 (1.6875 bits per weight), for ternary-trained models: super-blocks of
// 256 weights in 54 bytes: 48 bytes qs packing five ternary digits per byte, 4 bytes qh
// packing four, then F16 d. A byte holds the digits t0..t4 (0, 1, 2 for -1, 0, 1; t0 most
// significant) of the base-3 number v as ceil(v*256/243), so digit n is the top two bits of
// (byte*3^n mod 256)*3. qs[m] of the first 32 bytes holds weights m+32*n (n = 0..4), qs[32+m]
// weights 160+m+16*n, and qh[j] weights 240+j+4*n (n = 0..3, with a fifth digit of 0).
// Weight value: (t-1)*d. The quantizer ignores importance weights.
type tq1_0 struct{}

func (tq1_0) BlockSize() int { return QKK }
func (tq1_0) TypeSize() int  { return tq1_0Size }

const tq1_0Size = 54

// tritPowers are the powers of three that bring each of a byte's five digits to the top.
var tritPowers = [5]uint8{1, 3, 9, 27, 81}

// packTrits stores the base-3 number q (< 243) as its byte, rounding q*256/243 up.
func packTrits(q uint8) uint8 { return uint8((uint16(q)*256 + 242) / 243) }

// unpackTrit returns digit n (0..4) of a packed byte as -1, 0 or 1.
func unpackTrit(b uint8, n int) int32 { return int32((uint16(b*tritPowers[n])*3)>>8) - 1 }

func (tq1_0) QuantizeRow(dst []byte, x, _ []float32) {
	for i := 0; i < len(x)/QKK; i++ {
		xb := x[i*QKK : i*QKK+QKK]
		y := dst[i*tq1_0Size : i*tq1_0Size+tq1_0Size]
		d := ternaryScale(xb)
		id := ternaryInverse(d)
		put16(y[52:], fp16(d))
		pack := func(xs []float32, stride, digits int) uint8 {
			var q uint8
			for n := 0; n < digits; n++ {
				q = q*3 + uint8(ternaryCode(xs[n*stride], id))
			}
			return q
		}
		for m := 0; m < 32; m++ {
			y[m] = packTrits(pack(xb[m:], 32, 5))
		}
		for m := 0; m < 16; m++ {
			y[32+m] = packTrits(pack(xb[160+m:], 16, 5))
		}
		for j := 0; j < 4; j++ {
			y[48+j] = packTrits(pack(xb[240+j:], 4, 4) * 3)
		}
	}
}

func (tq1_0) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*tq1_0Size : i*tq1_0Size+tq1_0Size]
		d := halfAt(b[52:])
		y := dst[i*QKK : i*QKK+QKK]
		for n := 0; n < 5; n++ {
			for m := 0; m < 32; m++ {
				y[32*n+m] = float32(unpackTrit(b[m], n)) * d
			}
			for m := 0; m < 16; m++ {
				y[160+16*n+m] = float32(unpackTrit(b[32+m], n)) * d
			}
		}
		for n := 0; n < 4; n++ {
			for j := 0; j < 4; j++ {
				y[240+4*n+j] = float32(unpackTrit(b[48+j], n)) * d
			}
		}
	}
}
