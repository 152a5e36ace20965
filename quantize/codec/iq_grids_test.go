package codec

import (
	"crypto/sha256"
	"encoding/hex"
	"math/bits"
	"testing"
)

// TestIQGridsDefiningProperties checks each grid index list against what defines it: its
// size, strictly ascending points (so no duplicates), levels within the family's range, the
// parity rule of the lattice (IQ2: an even sum of levels, so the odd coordinates 2l+1 sum to a
// multiple of 4 as in E8; IQ3_XXS likewise), and the SHA-256 of the expanded dequantization grid
// laid out as ggml-common.h's table (little-endian words), printed by
// testdata/iqgrids/gen.py --digests from the llama.cpp snapshot.
func TestIQGridsDefiningProperties(t *testing.T) {
	type grid struct {
		name     string
		index    []uint16
		size     int
		width    int  // coordinates per point
		maxLevel int  // largest level used
		even     bool // the levels of every point sum to an even number
		bytes    func() []byte
		digest   string
	}
	flat8 := func(g [][8]uint8) func() []byte {
		return func() (b []byte) {
			for _, p := range g {
				b = append(b, p[:]...)
			}
			return
		}
	}
	flat4 := func(g [][4]uint8) func() []byte {
		return func() (b []byte) {
			for _, p := range g {
				b = append(b, p[:]...)
			}
			return
		}
	}
	iq1 := func() (b []byte) {
		for _, p := range iq1SGrid {
			for _, v := range p {
				b = append(b, byte(v))
			}
		}
		return
	}
	grids := []grid{
		{"iq2xxs", iq2xxsIndex[:], 256, 8, 2, true, flat8(iq2XXSGrid), "05826b5d3e472a3a78f196be62ac78acf81df0f909626e12ab9fa2a5d490dd54"},
		{"iq2xs", iq2xsIndex[:], 512, 8, 2, true, flat8(iq2XSGrid), "06e47aaca60b4dc1d9b5a3f34540437058a6b142b4d7a59d5ded769b4d1bf1de"},
		{"iq2s", iq2sIndex[:], 1024, 8, 2, true, flat8(iq2SGrid), "e1aa1473412b0552c2174c30ef22ab4073f6a181b85a17056e8249bd2932fd88"},
		{"iq1s", iq1sIndex[:], 2048, 8, 2, false, iq1, "07540ffc1aeaf6ad4d97e96b0fcc765aae39671d4ae4a27bbd0e796fde167c6a"},
		{"iq3xxs", iq3xxsIndex[:], 256, 4, 7, true, flat4(iq3XXSGrid), "46e35f5a997efdee6c99ce57854c8a0d4f0ff8ca57e5e8a60c0793ea580acf5d"},
		{"iq3s", iq3sIndex[:], 512, 4, 7, false, flat4(iq3SGrid), "bd1af4945a1717c65610b0284e4628b9a1ba3b306fae3a06f6e5f597356e349f"},
	}
	for _, g := range grids {
		t.Run(g.name, func(t *testing.T) {
			if len(g.index) != g.size {
				t.Errorf("%d points, want %d", len(g.index), g.size)
			}
			bitsPer := 3 // 8-wide grids use 2-bit levels, 4-wide ones 3-bit levels
			if g.width == 8 {
				bitsPer = 2
			}
			for k, p := range g.index {
				if k > 0 && p <= g.index[k-1] {
					t.Fatalf("point %d (%d) does not follow %d: not strictly ascending", k, p, g.index[k-1])
				}
				if p>>(bitsPer*g.width) != 0 {
					t.Fatalf("point %d (%d) has bits beyond its %d coordinates", k, p, g.width)
				}
				sum := 0
				for i := 0; i < g.width; i++ {
					l := int(p >> (bitsPer * i) & (1<<bitsPer - 1))
					if l > g.maxLevel {
						t.Fatalf("point %d coordinate %d has level %d > %d", k, i, l, g.maxLevel)
					}
					sum += l
				}
				if g.even && sum%2 != 0 {
					t.Fatalf("point %d (%d): levels sum to %d, odd", k, p, sum)
				}
			}
			sum := sha256.Sum256(g.bytes())
			if got := hex.EncodeToString(sum[:]); got != g.digest {
				t.Errorf("expanded grid digest %s, ggml-common.h's is %s", got, g.digest)
			}
		})
	}
}

// TestIQSigns checks ggml's ksigns_iq2xs rule: entry i keeps the seven bits of i and sets the
// eighth so that the number of negative weights is even, as ggml-common.h lists it.
func TestIQSigns(t *testing.T) {
	for i, s := range iqSigns {
		if int(s&127) != i || bits.OnesCount8(s)%2 != 0 {
			t.Errorf("iqSigns[%d] = %d", i, s)
		}
	}
	for _, c := range []struct{ i, want uint8 }{{0, 0}, {1, 129}, {3, 3}, {7, 135}, {64, 192}, {127, 255}} {
		if iqSigns[c.i] != c.want {
			t.Errorf("iqSigns[%d] = %d, ggml has %d", c.i, iqSigns[c.i], c.want)
		}
	}
}

// TestTritPacking checks the TQ1_0 byte code on every five-digit base-3 number: each digit reads
// back from the packed byte.
func TestTritPacking(t *testing.T) {
	for q := 0; q < 243; q++ {
		b := packTrits(uint8(q))
		v := q
		for n := 4; n >= 0; n-- {
			if got, want := unpackTrit(b, n), int32(v%3)-1; got != want {
				t.Fatalf("q=%d: digit %d reads %d, want %d", q, n, got, want)
			}
			v /= 3
		}
	}
}
