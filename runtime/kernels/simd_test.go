package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSIMDMatchesPureGo compares the SIMD kernels in use (if any) with the pure-Go ones on
// lengths that exercise the tails.
func TestSIMDMatchesPureGo(t *testing.T) {
	t.Logf("kernels: %s", SIMD())
	rng := rand.New(rand.NewPCG(8, 8))
	for _, n := range []int{1, 7, 16, 31, 32, 33, 100, 256, 1000, 4096} {
		x, y := randomActs(rng, 1, n), randomActs(rng, 1, n)
		var mag float64
		for i := range x {
			mag += math.Abs(float64(x[i] * y[i]))
		}
		UsePureGo = true
		want := DotF32(x, y)
		wantY := append([]float32(nil), y...)
		AxpyF32(0.37, x, wantY)
		UsePureGo = false
		got := DotF32(x, y)
		gotY := append([]float32(nil), y...)
		AxpyF32(0.37, x, gotY)
		if math.Abs(float64(got-want)) > 1e-5*mag {
			t.Errorf("DotF32 n=%d: SIMD %g, Go %g", n, got, want)
		}
		for i := range gotY {
			if math.Abs(float64(gotY[i]-wantY[i])) > 1e-6*(1+math.Abs(float64(wantY[i]))) {
				t.Fatalf("AxpyF32 n=%d element %d: SIMD %g, Go %g", n, i, gotY[i], wantY[i])
			}
		}
	}
	const n = 2048
	for _, typ := range SupportedTypes() {
		k := kernels[typ]
		var a Acts
		a.Reset(randomActs(rng, 1, n), 1, n)
		a.prepare(k.act, nil)
		var r row
		a.row(k.act, 0, &r)
		for range 8 {
			w := randomRow(rng, typ, n)
			want, got := k.dotGo(w, &r), k.dot(w, &r)
			wf := make([]float32, n)
			k.codec.DequantizeRow(wf, w)
			var mag float64
			for i := range wf {
				mag += math.Abs(float64(wf[i] * r.f[i]))
			}
			if math.Abs(float64(got-want)) > 1e-5*mag+1e-6 {
				t.Errorf("%s: SIMD %g, Go %g", typ, got, want)
			}
		}
	}
}

// TestPureGoSwitch checks that UsePureGo selects the pure-Go kernels.
func TestPureGoSwitch(t *testing.T) {
	defer func(v bool) { UsePureGo = v }(UsePureGo)
	UsePureGo = true
	if SIMD() != "purego" {
		t.Fatalf("SIMD() = %q with UsePureGo set", SIMD())
	}
	for typ, k := range kernels {
		if k.dotFn() == nil {
			t.Fatalf("%s: no kernel", typ)
		}
	}
}

// TestDot4MatchesDot checks the four-token kernels against the pure-Go one-token kernels.
func TestDot4MatchesDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{256, 768, 2048} {
		for _, typ := range SupportedTypes() {
			k := kernels[typ]
			if k.dot4 == nil {
				continue
			}
			var a Acts
			a.Reset(randomActs(rng, 4, n), 4, n)
			a.prepare(k.act, nil)
			w := randomRow(rng, typ, n)
			var r row
			a.row(k.act, 0, &r)
			var out [4]float32
			k.dot4(w, &r, n, &out)
			for tok := range 4 {
				var rt row
				a.row(k.act, tok, &rt)
				want := k.dotGo(w, &rt)
				var mag float64
				wf := make([]float32, n)
				k.codec.DequantizeRow(wf, w)
				for i := range wf {
					mag += math.Abs(float64(wf[i] * rt.f[i]))
				}
				if math.Abs(float64(out[tok]-want)) > 1e-5*mag+1e-6 {
					t.Errorf("%s n=%d token %d: dot4 %g, dot %g", typ, n, tok, out[tok], want)
				}
			}
		}
	}
}

// TestAVX2KernelsUseVEXRegisters guards the generated AVX2 kernels against registers 16-31,
// which need AVX-512 encodings and would fault on AVX2-only CPUs.
func TestAVX2KernelsUseVEXRegisters(t *testing.T) {
	b, err := os.ReadFile("kernels_amd64.s")
	if err != nil {
		t.Skipf("no generated assembly here: %v", err)
	}
	high := regexp.MustCompile(`\b[XYZ](1[6-9]|2[0-9]|3[01])\b`)
	for _, fn := range strings.Split(string(b), "TEXT ")[1:] {
		name, _, _ := strings.Cut(fn, "(")
		if !strings.HasSuffix(name, "AVX2") {
			continue
		}
		if m := high.FindString(fn); m != "" {
			t.Errorf("%s uses %s; regenerate with fewer live vector registers", name, m)
		}
	}
}

// TestTile4MatchesDot checks the four-row, four-token tile kernels against the pure-Go
// one-token kernels, on row lengths that take the tile path and ones that fall back.
func TestTile4MatchesDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	for _, typ := range SupportedTypes() {
		k := kernels[typ]
		if k.tile4 == nil {
			continue
		}
		lengths := []int{256, 768, 2048}
		if k.act == ActF32 {
			lengths = append(lengths, 40, 48)
		}
		for _, n := range lengths {
			var a Acts
			a.Reset(randomActs(rng, 4, n), 4, n)
			a.prepare(k.act, nil)
			w := randomRow(rng, typ, 4*n)
			rb := len(w) / 4
			var r row
			a.row(k.act, 0, &r)
			const os = 7
			out := make([]float32, 3*os+4)
			k.tile4(w, rb, &r, n, out, os)
			for i := range 4 {
				wi := w[i*rb : (i+1)*rb]
				wf := make([]float32, n)
				k.codec.DequantizeRow(wf, wi)
				for tok := range 4 {
					var rt row
					a.row(k.act, tok, &rt)
					want := k.dotGo(wi, &rt)
					var mag float64
					for j := range wf {
						mag += math.Abs(float64(wf[j] * rt.f[j]))
					}
					if got := out[tok*os+i]; math.Abs(float64(got-want)) > 1e-5*mag+1e-6 {
						t.Errorf("%s n=%d row %d token %d: tile %g, dot %g", typ, n, i, tok, got, want)
					}
				}
			}
		}
	}
}

// TestMatMulMatchesPureGo multiplies matrices whose row and token counts are not multiples of
// the tile sizes with the SIMD and the pure-Go kernels.
func TestMatMulMatchesPureGo(t *testing.T) {
	defer func(v bool) { UsePureGo = v }(UsePureGo)
	rng := rand.New(rand.NewPCG(11, 11))
	p := NewPool(2)
	defer p.Close()
	const rows, cols = 45, 512
	for _, typ := range SupportedTypes() {
		for _, ntok := range []int{1, 3, 4, 11, 16, 27, 37} {
			data := randomRow(rng, typ, rows*cols)
			w, err := NewMatrix(typ, rows, cols, data)
			if err != nil {
				t.Fatal(err)
			}
			x := randomActs(rng, ntok, cols)
			got, want := make([]float32, ntok*rows), make([]float32, ntok*rows)
			for _, pure := range []bool{true, false} {
				UsePureGo = pure
				var a Acts
				a.Reset(x, ntok, cols)
				dst := got
				if pure {
					dst = want
				}
				MatMul(p, dst, w, &a)
			}
			wf := make([]float32, cols)
			for r := range rows {
				kernels[typ].codec.DequantizeRow(wf, data[r*w.RowBytes():(r+1)*w.RowBytes()])
				for tok := range ntok {
					var mag float64
					for j, v := range wf {
						mag += math.Abs(float64(v * x[tok*cols+j]))
					}
					g, wv := got[tok*rows+r], want[tok*rows+r]
					if math.Abs(float64(g-wv)) > 1e-5*mag+1e-6 {
						t.Errorf("%s ntok=%d [%d,%d]: SIMD %g, Go %g", typ, ntok, tok, r, g, wv)
					}
				}
			}
		}
	}
}
