// Package dtype converts between the floating-point storage types of model files: IEEE binary16
// (F16), bfloat16 (BF16), the two FP8 formats of safetensors (F8_E4M3, F8_E5M2) and float32.
//
// Narrowing conversions round to nearest, ties to even, exactly as numpy's astype and PyTorch's
// .to() do, so converted files are byte-identical to those the Python tools write. NaN stays
// NaN (quiet) and infinities stay infinite.
package dtype

import (
	"encoding/binary"
	"math"
)

// f16Table holds the float32 value of every F16 bit pattern.
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16ToF32Slow(uint16(i))
	}
	return &t
}()

// F16ToF32 widens an IEEE binary16 value exactly.
func F16ToF32(h uint16) float32 { return f16Table[h] }

func f16ToF32Slow(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = mant * 2^-24.
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// F32ToF16 narrows a float32 to IEEE binary16, rounding to nearest even; values beyond the F16
// range become infinities and NaN stays a quiet NaN.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13) // quiet NaN, payload kept where it fits
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal or zero in F16: shift the full significand (with its hidden bit) right.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to infinity: correct
	}
	return sign | uint16(h)
}

// BF16ToF32 widens a bfloat16 value exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 narrows a float32 to bfloat16, rounding to nearest even; NaN stays a quiet NaN.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F8E4M3ToF32 widens an FP8 E4M3 (the "fn" variant: no infinities, 0x7f/0xff are NaN) value.
func F8E4M3ToF32(v uint8) float32 {
	sign := float32(1)
	if v&0x80 != 0 {
		sign = -1
	}
	exp := int(v>>3) & 0xf
	mant := int(v) & 7
	if exp == 0xf && mant == 7 {
		return float32(math.NaN())
	}
	if exp == 0 {
		return sign * float32(mant) / 8 * (1.0 / 64) // 2^-6 * mant/8
	}
	return sign * float32(math.Ldexp(1+float64(mant)/8, exp-7))
}

// F8E5M2ToF32 widens an FP8 E5M2 value (IEEE-like: the top half of an F16).
func F8E5M2ToF32(v uint8) float32 { return F16ToF32(uint16(v) << 8) }

// DecodeF16 widens little-endian F16 bytes into dst (len(src) must be 2*len(dst)).
func DecodeF16(dst []float32, src []byte) {
	_ = src[2*len(dst)-1]
	for i := range dst {
		dst[i] = f16Table[binary.LittleEndian.Uint16(src[2*i:])]
	}
}

// DecodeBF16 widens little-endian BF16 bytes into dst (len(src) must be 2*len(dst)).
func DecodeBF16(dst []float32, src []byte) {
	_ = src[2*len(dst)-1]
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
}

// DecodeF32 copies little-endian F32 bytes into dst (len(src) must be 4*len(dst)).
func DecodeF32(dst []float32, src []byte) {
	_ = src[4*len(dst)-1]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// EncodeF16 narrows src into little-endian F16 bytes in dst (len(dst) must be 2*len(src)).
func EncodeF16(dst []byte, src []float32) {
	_ = dst[2*len(src)-1]
	for i, f := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(f))
	}
}

// EncodeBF16 narrows src into little-endian BF16 bytes in dst (len(dst) must be 2*len(src)).
func EncodeBF16(dst []byte, src []float32) {
	_ = dst[2*len(src)-1]
	for i, f := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(f))
	}
}

// EncodeF32 writes src as little-endian F32 bytes in dst (len(dst) must be 4*len(src)).
func EncodeF32(dst []byte, src []float32) {
	_ = dst[4*len(src)-1]
	for i, f := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(f))
	}
}
