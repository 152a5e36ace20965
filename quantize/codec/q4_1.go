package codec

import (
	"math"
)

// q4_1 is ggml's Q4_1: blocks of 32 weights, 20 bytes: F16 scale d, F16 minimum m, then 16
// bytes of 4-bit levels (weight j low nibble, weight j+16 high nibble), value q*d + m.
type q4_1 struct{}

func (q4_1) BlockSize() int { return QK }
func (q4_1) TypeSize() int  { return 20 }

func (q4_1) QuantizeRow(dst []byte, x, imatrix []float32) {
	if imatrix == nil {
		quantizeMinRef(dst, x, 15, 20)
		return
	}
	quantizeMinImpl(dst, x, imatrix, 15, 20)
}

func (q4_1) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK; i++ {
		b := src[i*20 : i*20+20]
		d, m := halfAt(b), halfAt(b[2:])
		y := dst[i*QK : i*QK+QK]
		for j := 0; j < 16; j++ {
			y[j] = float32(float32(b[4+j]&0x0f)*d) + m
			y[j+16] = float32(float32(b[4+j]>>4)*d) + m
		}
	}
}

// quantizeMinRef is quantize_row_q4_1_ref (nmax 15, 20-byte blocks) and quantize_row_q5_1_ref
// (nmax 31, 24-byte blocks): d = (max-min)/nmax with the block minimum as offset.
func quantizeMinRef(dst []byte, x []float32, nmax int, size int) {
	var L [QK]uint8
	for i := 0; i < len(x)/QK; i++ {
		xb := x[i*QK : i*QK+QK]
		min := float32(math.MaxFloat32)
		max := float32(-math.MaxFloat32)
		for _, v := range xb {
			if v < min {
				min = v
			}
			if v > max {
				max = v
			}
		}
		d := (max - min) / float32(nmax)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		y := dst[i*size : i*size+size]
		put16(y, fp16(d))
		put16(y[2:], fp16(min))
		for j, v := range xb {
			q := uint8(float32((v-min)*id) + 0.5)
			if nmax == 15 && q > 15 {
				q = 15 // Q4_1 clamps; Q5_1 keeps the byte as C does
			}
			L[j] = q
		}
		packLevels(y[4:], &L, nmax == 31)
	}
}

// quantizeMinImpl is quantize_row_q4_1_impl and quantize_row_q5_1_impl: per block, an
// importance-weighted (scale, min) search with make_qkx3_quants.
func quantizeMinImpl(dst []byte, x, imatrix []float32, nmax int32, size int) {
	var sumX2 float32
	for _, v := range x {
		sumX2 += float32(v * v)
	}
	sigma2 := sumX2 / float32(len(x))
	var weight [QK]float32
	var L, Laux [QK]uint8
	for ib := 0; ib < len(x)/QK; ib++ {
		xb := x[ib*QK : ib*QK+QK]
		qw := imatrix[ib*QK : ib*QK+QK]
		for j := range weight {
			weight[j] = qw[j] * sqrt32(sigma2+float32(xb[j]*xb[j]))
		}
		var min float32
		d := makeQkx3Quants(QK, nmax, xb, weight[:], L[:], Laux[:], &min, -0.9, 0.05, 36)
		y := dst[ib*size : ib*size+size]
		put16(y, fp16(d))
		put16(y[2:], fp16(-min))
		packLevels(y[4:], &L, nmax == 31)
	}
}

// packLevels stores 32 levels: 16 bytes of nibbles (level j low, level j+16 high), preceded for
// 5-bit types by 4 bytes (a little-endian uint32) holding bit 4 of level j at bit j.
func packLevels(y []byte, L *[QK]uint8, fiveBit bool) {
	if fiveBit {
		var qh uint32
		for j := 0; j < 16; j++ {
			qh |= uint32(L[j]&0x10) >> 4 << j
			qh |= uint32(L[j+16]&0x10) >> 4 << (j + 16)
		}
		y[0], y[1], y[2], y[3] = byte(qh), byte(qh>>8), byte(qh>>16), byte(qh>>24)
		y = y[4:]
	}
	for j := 0; j < 16; j++ {
		y[j] = L[j]&0x0f | (L[j+16]&0x0f)<<4
	}
}

// unpack5 returns the 5-bit level j of a Q5_0/Q5_1 block from its qh word and nibbles.
func unpack5(qh uint32, qs []byte, j int) uint8 {
	if j < 16 {
		return qs[j]&0x0f | uint8(qh>>j)<<4&0x10
	}
	return qs[j-16]>>4 | uint8(qh>>j)<<4&0x10
}
