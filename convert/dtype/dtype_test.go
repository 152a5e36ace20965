package dtype

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refF32ToF16 narrows through float64 arithmetic: find the two neighbouring F16 values and pick
// the nearer, ties to the even bit pattern. It is slow and obviously right.
func refF32ToF16(f float32) uint16 {
	if f != f {
		return 0x7e00 | uint16(math.Float32bits(f)>>16)&0x8000
	}
	x := float64(f)
	sign := uint16(0)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	// Largest finite F16 is 65504; beyond halfway to 65536 rounds to infinity.
	if x >= 65520 {
		return sign | 0x7c00
	}
	best, bestD := uint16(0), math.Inf(1)
	lo, hi := 0, 0x7bff
	for lo < hi { // binary search for the first pattern whose value is >= x
		mid := (lo + hi) / 2
		if float64(f16ToF32Slow(uint16(mid))) < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for _, c := range []int{lo - 1, lo} {
		if c < 0 {
			continue
		}
		d := math.Abs(float64(f16ToF32Slow(uint16(c))) - x)
		if d < bestD || (d == bestD && c%2 == 0) {
			best, bestD = uint16(c), d
		}
	}
	return sign | best
}

func TestF16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f {
			if F32ToF16(f)&0x7c00 != 0x7c00 || F32ToF16(f)&0x3ff == 0 {
				t.Fatalf("NaN %#04x did not stay NaN", h)
			}
			continue
		}
		if got := F32ToF16(f); got != uint16(h) {
			t.Fatalf("F16 %#04x -> %v -> %#04x", h, f, got)
		}
	}
}

func TestF32ToF16Rounding(t *testing.T) {
	cases := []float32{0, 1, -1, 65504, 65519, 65520, 1e-8, 2.98e-8, 5.96e-8, 6.1e-5, 1.0009765625, 1.00048828125, 1.00146484375, -3.4e38}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		cases = append(cases, math.Float32frombits(r.Uint32()&0x7fffffff|uint32(r.IntN(2))<<31))
		cases = append(cases, float32(r.NormFloat64()*float64(r.IntN(8)+1)))
	}
	for _, f := range cases {
		if got, want := F32ToF16(f), refF32ToF16(f); got != want && f == f {
			t.Fatalf("F32ToF16(%g) = %#04x, want %#04x", f, got, want)
		}
	}
}

func TestBF16(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above half
		{0x7f7fffff, 0x7f80}, // max float rounds to Inf
		{0x7fc00001, 0x7fc0}, // NaN
		{0xff800000, 0xff80}, // -Inf
	} {
		if got := F32ToBF16(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	for h := 0; h < 1<<16; h++ {
		f := BF16ToF32(uint16(h))
		if f == f && F32ToBF16(f) != uint16(h) {
			t.Fatalf("BF16 %#04x does not round-trip", h)
		}
	}
}

func TestF8(t *testing.T) {
	for _, tc := range []struct {
		v    uint8
		want float32
	}{
		{0x38, 1}, {0xb8, -1}, {0x7e, 448}, {0x01, 1.0 / 512}, {0x08, 1.0 / 64}, {0x00, 0},
	} {
		if got := F8E4M3ToF32(tc.v); got != tc.want {
			t.Errorf("E4M3 %#02x = %g, want %g", tc.v, got, tc.want)
		}
	}
	if f := F8E4M3ToF32(0x7f); f == f {
		t.Error("E4M3 0x7f is not NaN")
	}
	for _, tc := range []struct {
		v    uint8
		want float32
	}{{0x3c, 1}, {0x7b, 57344}, {0x01, 1.0 / 65536}, {0x7c, float32(math.Inf(1))}} {
		if got := F8E5M2ToF32(tc.v); got != tc.want {
			t.Errorf("E5M2 %#02x = %g, want %g", tc.v, got, tc.want)
		}
	}
}

func TestSliceCodecs(t *testing.T) {
	src := []float32{1, -2.5, 65504, 1e-7, 3.14159}
	b := make([]byte, 2*len(src))
	out := make([]float32, len(src))
	EncodeF16(b, src)
	DecodeF16(out, b)
	for i := range src {
		if out[i] != F16ToF32(F32ToF16(src[i])) {
			t.Errorf("F16 slice %d", i)
		}
	}
	EncodeBF16(b, src)
	DecodeBF16(out, b)
	for i := range src {
		if out[i] != BF16ToF32(F32ToBF16(src[i])) {
			t.Errorf("BF16 slice %d", i)
		}
	}
	b4 := make([]byte, 4*len(src))
	EncodeF32(b4, src)
	DecodeF32(out, b4)
	for i := range src {
		if out[i] != src[i] {
			t.Errorf("F32 slice %d", i)
		}
	}
}

func BenchmarkEncodeF16(b *testing.B) {
	src := make([]float32, 1<<20)
	for i := range src {
		src[i] = float32(i) * 0.001
	}
	dst := make([]byte, 2*len(src))
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		EncodeF16(dst, src)
	}
}

func BenchmarkDecodeBF16(b *testing.B) {
	src := make([]byte, 2<<20)
	dst := make([]float32, 1<<20)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		DecodeBF16(dst, src)
	}
}
