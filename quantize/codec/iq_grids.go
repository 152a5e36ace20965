package codec

// The IQ1/IQ2/IQ3 types store groups of 8 (IQ1, IQ2) or 4 (IQ3) weights as an index into a grid
// of lattice points. Each grid is defined by the sorted list of its points, every coordinate a
// small level (iq_grids_data.go, transcribed from llama.cpp); the dequantization value of a
// level is given per grid family below. Both tables llama.cpp keeps per grid, the
// dequantization grid of ggml-common.h and the odd-integer grid its quantizers search, are
// expanded from the lists here.

// iq2Values maps the 2-bit levels of the IQ2 grids (0..2) to their dequantized magnitudes.
var iq2Values = [3]uint8{8, 25, 43}

// iq3XXSValues maps the 3-bit levels of the IQ3_XXS grid to their dequantized magnitudes.
var iq3XXSValues = [8]uint8{4, 12, 20, 28, 36, 44, 52, 62}

// iq3SValues maps the 3-bit levels of the IQ3_S grid to their magnitudes, 2*level+1.
var iq3SValues = [8]uint8{1, 3, 5, 7, 9, 11, 13, 15}

// iq1Values maps the 2-bit levels of the IQ1 grid to the ternary values -1, 0, 1.
var iq1Values = [3]int8{-1, 0, 1}

// expand8 expands the points of an 8-wide grid (2-bit levels) into their eight values each.
func expand8[V int8 | uint8](index []uint16, values []V) [][8]V {
	out := make([][8]V, len(index))
	for k, p := range index {
		for i := range 8 {
			out[k][i] = values[p>>(2*i)&3]
		}
	}
	return out
}

// expand4 expands the points of a 4-wide grid (3-bit levels) into their four values each.
func expand4(index []uint16, values []uint8) [][4]uint8 {
	out := make([][4]uint8, len(index))
	for k, p := range index {
		for i := range 4 {
			out[k][i] = values[p>>(3*i)&7]
		}
	}
	return out
}

// The dequantization grids, as ggml-common.h's iq2xxs_grid ... iq1s_grid (one byte per
// coordinate).
var (
	iq2XXSGrid = expand8(iq2xxsIndex[:], iq2Values[:])
	iq2XSGrid  = expand8(iq2xsIndex[:], iq2Values[:])
	iq2SGrid   = expand8(iq2sIndex[:], iq2Values[:])
	iq1SGrid   = expand8(iq1sIndex[:], iq1Values[:])
	iq3XXSGrid = expand4(iq3xxsIndex[:], iq3XXSValues[:])
	iq3SGrid   = expand4(iq3sIndex[:], iq3SValues[:])
)

// iqSigns[i] is ggml's ksigns_iq2xs[i]: the seven sign bits i of eight weights completed by an
// eighth so that the number of negative weights is even (bit j set: weight j is negative).
var iqSigns = func() (t [128]uint8) {
	for i := range t {
		b := uint8(i)
		p := b ^ b>>4
		p ^= p >> 2
		p ^= p >> 1
		t[i] = b | (p&1)<<7
	}
	return
}()

// sign returns -1 when bit j of s is set, else 1.
func sign(s uint8, j int) float32 {
	if s>>j&1 != 0 {
		return -1
	}
	return 1
}
