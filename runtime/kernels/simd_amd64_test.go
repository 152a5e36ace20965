//go:build amd64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/mcompress/mcompress/convert/dtype"
)

// TestAVX2FloatKernels checks the AVX2 float kernels directly, since on AVX-512 machines the
// dispatch uses the 512-bit ones instead.
func TestAVX2FloatKernels(t *testing.T) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasF16C {
		t.Skip("no AVX2")
	}
	rng := rand.New(rand.NewPCG(4, 4))
	const n = 160
	x := randomActs(rng, 4, n)
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	wb := make([]byte, 2*n)
	dtype.EncodeF16(wb, w)
	wf := make([]float32, n)
	dtype.DecodeF16(wf, wb)
	var out [4]float32
	dotF16x4AVX2(&wb[0], &x[0], 4*n, n, &out[0])
	for tok := range 4 {
		xt := x[tok*n : (tok+1)*n]
		want := dotF32Go(wf, xt)
		var mag float64
		for i := range xt {
			mag += math.Abs(float64(wf[i] * xt[i]))
		}
		for name, got := range map[string]float32{
			"dotF32Wrap":    dotF32Wrap(wf, xt),
			"dotF16RowAVX2": dotF16RowAVX2(wb, &row{f: xt}),
			"dotF16x4AVX2":  out[tok],
		} {
			if math.Abs(float64(got-want)) > 1e-5*mag {
				t.Errorf("%s token %d: %g, want %g", name, tok, got, want)
			}
		}
	}
	y := append([]float32(nil), x[:n]...)
	axpyF32Wrap(0.5, w, y)
	for i := range y {
		if want := x[i] + 0.5*w[i]; math.Abs(float64(y[i]-want)) > 1e-6*(1+math.Abs(float64(want))) {
			t.Fatalf("axpyF32Wrap element %d: %g, want %g", i, y[i], want)
		}
	}
}
