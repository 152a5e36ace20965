package kernels

import (
	"encoding/binary"
	"math"

	"github.com/mcompress/mcompress/convert/dtype"
)

// DotF32 returns the dot product of x and y (len(x) elements; y at least as long).
func DotF32(x, y []float32) float32 {
	if dotF32SIMD != nil && !UsePureGo {
		return dotF32SIMD(x, y)
	}
	return dotF32Go(x, y)
}

// SIMD versions of the float32 vector kernels, installed by the architecture files.
var (
	dotF32SIMD  func(x, y []float32) float32
	axpyF32SIMD func(a float32, x, y []float32)
)

// dotF32Go is the pure-Go float32 dot product, accumulating in 8 lanes as the SIMD version does.
func dotF32Go(x, y []float32) float32 {
	y = y[:len(x)]
	var s [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		xs, ys := x[i:i+8:i+8], y[i:i+8:i+8]
		s[0] += xs[0] * ys[0]
		s[1] += xs[1] * ys[1]
		s[2] += xs[2] * ys[2]
		s[3] += xs[3] * ys[3]
		s[4] += xs[4] * ys[4]
		s[5] += xs[5] * ys[5]
		s[6] += xs[6] * ys[6]
		s[7] += xs[7] * ys[7]
	}
	var tail float32
	for ; i < len(x); i++ {
		tail += x[i] * y[i]
	}
	return (s[0] + s[4]) + (s[1] + s[5]) + (s[2] + s[6]) + (s[3] + s[7]) + tail
}

// AxpyF32 adds a*x to y (len(x) elements).
func AxpyF32(a float32, x, y []float32) {
	if axpyF32SIMD != nil && !UsePureGo {
		axpyF32SIMD(a, x, y)
		return
	}
	axpyF32Go(a, x, y)
}

func axpyF32Go(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// ScaleF32 multiplies x by a in place.
func ScaleF32(a float32, x []float32) {
	for i := range x {
		x[i] *= a
	}
}

func dotF32Row(w []byte, r *row) float32 {
	x := r.f
	var s [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		b := w[4*i : 4*i+32 : 4*i+32]
		xs := x[i : i+8 : i+8]
		s[0] += f32le(b[0:]) * xs[0]
		s[1] += f32le(b[4:]) * xs[1]
		s[2] += f32le(b[8:]) * xs[2]
		s[3] += f32le(b[12:]) * xs[3]
		s[4] += f32le(b[16:]) * xs[4]
		s[5] += f32le(b[20:]) * xs[5]
		s[6] += f32le(b[24:]) * xs[6]
		s[7] += f32le(b[28:]) * xs[7]
	}
	var tail float32
	for ; i < len(x); i++ {
		tail += f32le(w[4*i:]) * x[i]
	}
	return (s[0] + s[4]) + (s[1] + s[5]) + (s[2] + s[6]) + (s[3] + s[7]) + tail
}

func dotF16Row(w []byte, r *row) float32 {
	x := r.f
	var s [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		b := w[2*i : 2*i+16 : 2*i+16]
		xs := x[i : i+8 : i+8]
		s[0] += f16le(b[0:]) * xs[0]
		s[1] += f16le(b[2:]) * xs[1]
		s[2] += f16le(b[4:]) * xs[2]
		s[3] += f16le(b[6:]) * xs[3]
		s[4] += f16le(b[8:]) * xs[4]
		s[5] += f16le(b[10:]) * xs[5]
		s[6] += f16le(b[12:]) * xs[6]
		s[7] += f16le(b[14:]) * xs[7]
	}
	var tail float32
	for ; i < len(x); i++ {
		tail += f16le(w[2*i:]) * x[i]
	}
	return (s[0] + s[4]) + (s[1] + s[5]) + (s[2] + s[6]) + (s[3] + s[7]) + tail
}

func dotBF16Row(w []byte, r *row) float32 {
	x := r.f
	var s [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		b := w[2*i : 2*i+16 : 2*i+16]
		xs := x[i : i+8 : i+8]
		s[0] += bf16le(b[0:]) * xs[0]
		s[1] += bf16le(b[2:]) * xs[1]
		s[2] += bf16le(b[4:]) * xs[2]
		s[3] += bf16le(b[6:]) * xs[3]
		s[4] += bf16le(b[8:]) * xs[4]
		s[5] += bf16le(b[10:]) * xs[5]
		s[6] += bf16le(b[12:]) * xs[6]
		s[7] += bf16le(b[14:]) * xs[7]
	}
	var tail float32
	for ; i < len(x); i++ {
		tail += bf16le(w[2*i:]) * x[i]
	}
	return (s[0] + s[4]) + (s[1] + s[5]) + (s[2] + s[6]) + (s[3] + s[7]) + tail
}

func f32le(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

func f16le(b []byte) float32 { return dtype.F16ToF32(binary.LittleEndian.Uint16(b)) }

func bf16le(b []byte) float32 {
	return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
}
