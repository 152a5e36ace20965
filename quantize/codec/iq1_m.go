package codec

import "encoding/binary"

// iq1M is ggml's IQ1_M (1.75 bits per weight): super-blocks of 256 weights in 56 bytes with no
// separate scale field: 32 bytes of low index bits (one per 8 weights), 16 bytes qh (per pair
// of groups of 8: low nibble for the first, high nibble for the second, each the high three
// bits of the 11-bit index into the IQ1 grid and, in bit 3, the sign of its delta), and four
// little-endian uint16 of scales: bits 0-11 of each hold four 3-bit sub-block scales (one per
// 16 weights), bits 12-15 of the four words together the F16 super-block scale d. Weight value:
// d*(2*ls+1) * (grid value ± 0.125).
type iq1M struct{}

func (iq1M) BlockSize() int { return QKK }
func (iq1M) TypeSize() int  { return iq1MSize }

const iq1MSize = 56

// iq1MScale returns the F16 super-block scale of an IQ1_M block, widened.
func iq1MScale(b []byte) float32 {
	var sc [4]uint16
	for k := range sc {
		sc[k] = binary.LittleEndian.Uint16(b[48+2*k:])
	}
	return fromFP16(sc[0]>>12 | sc[1]>>8&0x00f0 | sc[2]>>4&0x0f00 | sc[3]&0xf000)
}

func (iq1M) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*iq1MSize : i*iq1MSize+iq1MSize]
		d := iq1MScale(b)
		qs, qh := b[0:32], b[32:48]
		y := dst[i*QKK : i*QKK+QKK]
		for ib := 0; ib < 8; ib++ {
			sc := binary.LittleEndian.Uint16(b[48+2*(ib/2):])
			shift := 6 * (ib % 2)
			dl := [2]float32{
				d * float32(2*(sc>>shift&7)+1),
				d * float32(2*(sc>>(shift+3)&7)+1),
			}
			for l := 0; l < 4; l++ {
				h := qh[2*ib+l/2] >> (4 * (l % 2)) // this group's nibble
				g := &iq1SGrid[int(qs[4*ib+l])|int(h&7)<<8]
				delta := float32(iq1Delta)
				if h&8 != 0 {
					delta = -iq1Delta
				}
				out := y[32*ib+8*l : 32*ib+8*l+8]
				for j := range 8 {
					out[j] = dl[l/2] * (float32(g[j]) + delta)
				}
			}
		}
	}
}
