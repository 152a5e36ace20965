package kernels

import "github.com/mcompress/mcompress/quantize/codec"

// IQ4_NL: blocks of 32 weights, 18 bytes: an F16 scale d and 16 bytes of 4-bit indices laid out
// as in Q4_0 into a fixed non-linear table; w = d*table[i].

// iq4nlValues is ggml's kvalues_iq4nl, the non-linear 4-bit grid shared by IQ4_NL and IQ4_XS,
// as the codec defines it.
var iq4nlValues = &codec.IQ4NLValues

func dotIQ4_NLGo(w []byte, r *row) float32 {
	var sum float32
	for b := range len(r.d) {
		blk := w[b*18 : b*18+18 : b*18+18]
		q := r.q[b*32 : b*32+32 : b*32+32]
		var si int32
		for j := range 16 {
			si += int32(iq4nlValues[blk[2+j]&0xF])*int32(q[j]) + int32(iq4nlValues[blk[2+j]>>4])*int32(q[j+16])
		}
		sum += f16le(blk) * r.d[b] * float32(si)
	}
	return sum
}
