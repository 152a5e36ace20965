package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mcompress/mcompress/quantize"
)

// TestDequantizeMatchesQuantizePackage checks every supported type's row dequantizer against
// package quantize's independent codec (written separately from ggml-common.h).
func TestDequantizeMatchesQuantizePackage(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	const n = 1024
	for _, typ := range SupportedTypes() {
		if _, ok := quantize.Lookup(typ); !ok {
			t.Logf("%s: quantize has no codec", typ)
			continue
		}
		for range 4 {
			src := randomRow(rng, typ, n)
			got, want := make([]float32, n), make([]float32, n)
			if err := DequantizeRow(typ, got, src); err != nil {
				t.Fatal(err)
			}
			if err := quantize.Dequantize(typ, want, src); err != nil {
				t.Fatalf("%s: quantize.Dequantize: %v", typ, err)
			}
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*math.Abs(float64(want[i]))+1e-12 {
					t.Fatalf("%s element %d: kernels %g, quantize %g", typ, i, got[i], want[i])
				}
			}
		}
	}
}
