package codec

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// codecBounds are per-type error bounds for the round-trip tests: gauss is the largest RMSE
// allowed on unit Gaussian rows (about 12% above what ggml's algorithms reach, far below the
// ~1.4 of a codec that scrambles its levels); rel bounds the error on constant and alternating
// rows and on an isolated spike relative to their magnitude (Q4_0 and Q5_0 clip the extreme of
// the sign opposite to the largest value by one level: 1/8 and 1/16); zero bounds what a zero
// next to a spike becomes (IQ4's codebook has no zero: about amax/113).
var codecBounds = []struct {
	t     gguf.TensorType
	gauss float64
	rel   float64
	zero  float64
}{
	{gguf.TypeQ4_0, 0.095, 0.13, 1e-3},
	{gguf.TypeQ4_1, 0.087, 0.07, 1e-3},
	{gguf.TypeQ5_0, 0.048, 0.065, 1e-3},
	{gguf.TypeQ5_1, 0.043, 0.035, 1e-3},
	{gguf.TypeQ8_0, 0.0062, 0.005, 1e-3},
	{gguf.TypeQ2_K, 0.33, 0.2, 1e-3},
	{gguf.TypeQ3_K, 0.17, 0.2, 1e-3},
	{gguf.TypeQ4_K, 0.080, 0.07, 1e-3},
	{gguf.TypeQ5_K, 0.041, 0.035, 1e-3},
	{gguf.TypeQ6_K, 0.020, 0.02, 1e-3},
	{gguf.TypeQ8_K, 0.0075, 0.005, 1e-3},
	{gguf.TypeIQ4_NL, 0.085, 0.07, 0.01},
	{gguf.TypeIQ4_XS, 0.085, 0.07, 0.01},
	{gguf.TypeF16, 0.0003, 0.001, 0},
	{gguf.TypeBF16, 0.003, 0.004, 0},
	// The IQ3 grids have no zero (smallest magnitude 1/15 of the largest) and few points with
	// equal coordinates, so constant and alternating rows and zeros beside a spike fare worse.
	{gguf.TypeIQ3_XXS, 0.24, 0.3, 0.3}, // a spike's group of 4 snaps to a point with large neighbours
	{gguf.TypeIQ3_S, 0.19, 0.3, 0.12},
	// IQ2 grids: values 8, 25, 43 (no zero) with few constant points; IQ2_XXS's 4-bit scale per
	// 32 and its initial fit leave constant rows far off (ggml's output, byte for byte).
	{gguf.TypeIQ2_XXS, 0.39, 0.75, 0.2},
	{gguf.TypeIQ2_XS, 0.34, 0.1, 0.2},
	{gguf.TypeIQ2_S, 0.30, 0.1, 0.2},
	// IQ1: ternary grid values shifted by ±1/8 of the scale, so nothing reconstructs exactly;
	// without an imatrix IQ1_M weighs values by x², so the zeros beside a spike carry no weight
	// and take whatever grid value suits the spike (up to 1.125 times the sub-block scale).
	{gguf.TypeIQ1_S, 0.55, 0.3, 0.15},
	{gguf.TypeIQ1_M, 0.65, 0.3, 1.5},
	{gguf.TypeTQ1_0, 0.9, 0.001, 0}, // ternary: Gaussian rows keep little (0.805), the rest is exact
	{gguf.TypeTQ2_0, 0.9, 0.001, 0},
	{gguf.TypeF32, 0, 0, 0},
}

func roundTrip(t *testing.T, tt gguf.TensorType, x []float32, cols int, im []float32) []float32 {
	t.Helper()
	c, ok := Lookup(tt)
	if !ok {
		t.Fatalf("no codec for %s", tt)
	}
	if im == nil && RequiresImatrix(tt) { // uniform importance stands in for none
		im = make([]float32, cols)
		for i := range im {
			im[i] = 1
		}
	}
	buf := make([]byte, len(x)/c.BlockSize()*c.TypeSize())
	if err := Quantize(tt, buf, x, cols, im); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(x))
	if err := Dequantize(tt, y, buf); err != nil {
		t.Fatal(err)
	}
	return y
}

func rmse(x, y []float32) float64 {
	var s float64
	for i := range x {
		d := float64(x[i]) - float64(y[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(x)))
}

// TestCodecGeometryMatchesGGUF checks the table's ids against the GGUF format's type table:
// every id is a ggml type, and its codec's block geometry is the one GGUF files use.
func TestCodecGeometryMatchesGGUF(t *testing.T) {
	types := Types[gguf.TensorType]()
	for _, tt := range types {
		c, _ := Lookup(tt)
		if !tt.Valid() || c.BlockSize() != tt.BlockSize() || c.TypeSize() != tt.TypeSize() {
			t.Errorf("%s: codec has %d weights in %d bytes; gguf says %d in %d", tt, c.BlockSize(), c.TypeSize(), tt.BlockSize(), tt.TypeSize())
		}
	}
	if len(types) != len(codecBounds) {
		t.Errorf("%d codecs, %d with bounds: give every codec a bound", len(types), len(codecBounds))
	}
}

func TestRoundTripGaussian(t *testing.T) {
	r := &rng{s: 99}
	const cols = 512
	x := make([]float32, 32*cols)
	for i := range x {
		x[i] = r.normal()
	}
	im := make([]float32, cols)
	for i := range im {
		im[i] = 0.5 + r.uniform()
	}
	for _, b := range codecBounds {
		for _, w := range [][]float32{nil, im} {
			name := fmt.Sprintf("%s/imatrix=%v", b.t, w != nil)
			t.Run(name, func(t *testing.T) {
				got := rmse(x, roundTrip(t, b.t, x, cols, w))
				if got > b.gauss {
					t.Errorf("RMSE %.5f above the bound %.5f", got, b.gauss)
				}
				if b.t != gguf.TypeF32 && got == 0 {
					t.Errorf("RMSE is 0: the codec cannot be lossless on Gaussian data")
				}
			})
		}
	}
}

// TestRoundTripAdversarial checks rows that break naive codecs: zeros, constants, a lone spike,
// denormals, alternating signs, tiny and huge magnitudes, a huge outlier among small values.
func TestRoundTripAdversarial(t *testing.T) {
	const cols = 256
	r := &rng{s: 5}
	rows := map[string]func(i int) float32{
		"zeros":       func(int) float32 { return 0 },
		"constant":    func(int) float32 { return 0.75 },
		"negconst":    func(int) float32 { return -3.5 },
		"spike":       func(i int) float32 { return float32(map[bool]int{true: 1000}[i == 77]) },
		"negspike":    func(i int) float32 { return float32(map[bool]int{true: -1000}[i == 200]) },
		"denormals":   func(i int) float32 { return float32(i%7-3) * 1e-41 },
		"alternating": func(i int) float32 { return float32(1-2*(i%2)) * 0.5 },
		"tiny":        func(int) float32 { return 1e-6 * r.normal() },
		"huge":        func(int) float32 { return 3e3 * r.normal() },
		"outlier": func(i int) float32 {
			if i == 13 {
				return 60000
			}
			return 0.01 * r.normal()
		},
	}
	for _, b := range codecBounds {
		for name, f := range rows {
			t.Run(b.t.String()+"/"+name, func(t *testing.T) {
				x := make([]float32, cols)
				var amax float64
				for i := range x {
					x[i] = f(i)
					amax = math.Max(amax, math.Abs(float64(x[i])))
				}
				y := roundTrip(t, b.t, x, cols, nil)
				if i := FirstNonFinite(y); i >= 0 {
					t.Fatalf("output %d is %v", i, y[i])
				}
				var maxErr, sq float64
				for i := range x {
					d := math.Abs(float64(x[i]) - float64(y[i]))
					maxErr = math.Max(maxErr, d)
					sq += d * d
				}
				rms := math.Sqrt(sq / cols)
				switch name {
				case "zeros":
					for i, v := range y {
						if v != 0 {
							t.Fatalf("zeros: output %d is %g", i, v)
						}
					}
				case "denormals":
					if maxErr > 1e-39 {
						t.Errorf("denormal row: max error %g", maxErr)
					}
				case "tiny":
					// Scales below F16's range (6e-8) flush or lose precision in ggml too: only
					// require the error to stay of the order of the values.
					if maxErr > 2e-5 {
						t.Errorf("tiny row: max error %g", maxErr)
					}
				case "constant", "negconst", "alternating":
					if maxErr > b.rel*amax {
						t.Errorf("max error %g above %g", maxErr, b.rel*amax)
					}
				case "spike", "negspike":
					if b.t == gguf.TypeIQ3_S {
						// ggml's IQ3_S quantizer does not advance its output past an all-zero
						// sub-block, so the spike's sub-block lands in an earlier slot and reads
						// back wrongly. The bytes are ggml's (TestIQQuantizeMatchesReferenceDigests).
						t.Skip("ggml's IQ3_S misplaces sub-blocks after all-zero ones")
					}
					i := 77
					if name == "negspike" {
						i = 200
					}
					if d := math.Abs(float64(x[i] - y[i])); d > b.rel*amax {
						t.Errorf("spike reconstructed as %g (error %g above %g)", y[i], d, b.rel*amax)
					}
					for j, v := range y {
						if j != i && math.Abs(float64(v)) > b.zero*amax {
							t.Errorf("zero at %d reconstructed as %g", j, v)
							break
						}
					}
				case "outlier":
					if d := math.Abs(float64(x[13] - y[13])); d > b.rel*amax {
						t.Errorf("outlier reconstructed as %g", y[13])
					}
				default: // Gaussian rows at odd scales: relative RMSE like the unit test
					sigma := math.Sqrt(func() float64 {
						var s float64
						for _, v := range x {
							s += float64(v) * float64(v)
						}
						return s / cols
					}())
					if rms > 1.3*b.gauss*sigma {
						t.Errorf("relative RMSE %.4f above %.4f", rms/sigma, 1.3*b.gauss)
					}
				}
			})
		}
	}
}

func TestQuantizeRejectsNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		for _, tt := range []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeIQ4_XS, gguf.TypeF16} {
			x := make([]float32, 512)
			x[300] = bad
			c, _ := Lookup(tt)
			err := Quantize(tt, make([]byte, 512/c.BlockSize()*c.TypeSize()), x, 256, nil)
			if !errors.Is(err, ErrNonFinite) {
				t.Errorf("%s with %v: got %v, want ErrNonFinite", tt, bad, err)
			}
			if err != nil && !contains(err.Error(), "row 1, column 44") {
				t.Errorf("error %q does not locate the value", err)
			}
		}
	}
	im := make([]float32, 256)
	im[3] = float32(math.NaN())
	if err := Quantize(gguf.TypeQ4_K, make([]byte, 144), make([]float32, 256), 256, im); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN importance weight: got %v", err)
	}
}

func TestQuantizeRejectsBadGeometry(t *testing.T) {
	tests := []struct {
		name    string
		t       gguf.TensorType
		nDst    int
		nSrc    int
		nPerRow int
		nIm     int
	}{
		{"row not a block multiple", gguf.TypeQ4_K, 144, 256, 128, 0},
		{"partial row", gguf.TypeQ4_0, 36, 64, 48, 0},
		{"dst too small", gguf.TypeQ8_0, 33, 32, 32, 0},
		{"imatrix length", gguf.TypeQ4_0, 18, 32, 32, 16},
		{"unknown type", gguf.TypeQ8_1, 36, 32, 32, 0},
		{"imatrix required", gguf.TypeIQ2_XXS, 66, 256, 256, 0},
		{"zero row", gguf.TypeQ4_0, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		var im []float32
		if tc.nIm > 0 {
			im = make([]float32, tc.nIm)
		}
		if err := Quantize(tc.t, make([]byte, tc.nDst), make([]float32, tc.nSrc), tc.nPerRow, im); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if err := Dequantize(gguf.TypeQ4_K, make([]float32, 256), make([]byte, 143)); err == nil {
		t.Error("Dequantize with a short buffer: no error")
	}
	if err := Dequantize(gguf.TypeQ4_K, make([]float32, 100), make([]byte, 144)); err == nil {
		t.Error("Dequantize of a partial block: no error")
	}
}

// TestImatrixLowersWeightedError checks that the importance-weighted quantizers do what they are
// for: with weights concentrated on some columns, the weighted squared error is lower than
// without the importance matrix.
func TestImatrixLowersWeightedError(t *testing.T) {
	r := &rng{s: 11}
	const cols = 1024
	x := make([]float32, 16*cols)
	for i := range x {
		x[i] = r.normal()
	}
	im := make([]float32, cols)
	for i := range im {
		im[i] = 0.01
		if i%8 == 0 {
			im[i] = 10
		}
	}
	werr := func(y []float32) float64 {
		var s float64
		for i := range x {
			d := float64(x[i] - y[i])
			s += float64(im[i%cols]) * d * d
		}
		return s
	}
	for _, tt := range []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1,
		gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeIQ4_NL, gguf.TypeIQ4_XS, gguf.TypeIQ3_XXS, gguf.TypeIQ3_S,
		gguf.TypeIQ2_XXS, gguf.TypeIQ2_XS, gguf.TypeIQ2_S, gguf.TypeIQ1_S, gguf.TypeIQ1_M} {
		plain := werr(roundTrip(t, tt, x, cols, nil))
		weighted := werr(roundTrip(t, tt, x, cols, im))
		if weighted >= plain {
			t.Errorf("%s: weighted error %g with the imatrix, %g without", tt, weighted, plain)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
