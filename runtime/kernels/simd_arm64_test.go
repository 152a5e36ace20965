//go:build arm64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/mcompress/mcompress/convert/gguf"
)

// neonTypes are the weight types with NEON dot products.
var neonTypes = []gguf.TensorType{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K}

// TestNEONKernelsSelected checks that the registry installed the NEON kernels: the SIMD level
// matches the CPU (and MCOMPRESS_WANT_SIMD, which CI sets to the level it expects under qemu),
// and each NEON type's dot product is not its pure-Go twin.
func TestNEONKernelsSelected(t *testing.T) {
	want := "neon"
	if cpu.ARM64.HasASIMDDP && os.Getenv("MCOMPRESS_SIMD") != "neon" {
		want = "neon-dotprod"
	}
	if simdName != want {
		t.Errorf("simdName = %q, want %q (asimddp %v)", simdName, want, cpu.ARM64.HasASIMDDP)
	}
	if w := os.Getenv("MCOMPRESS_WANT_SIMD"); w != "" && simdName != w {
		t.Errorf("simdName = %q, MCOMPRESS_WANT_SIMD = %q", simdName, w)
	}
	for _, typ := range neonTypes {
		k := kernels[typ]
		if reflect.ValueOf(k.dot).Pointer() == reflect.ValueOf(k.dotGo).Pointer() {
			t.Errorf("%s: the dot product is the pure-Go one", typ)
		}
	}
	t.Logf("kernels: %s (asimddp %v)", SIMD(), cpu.ARM64.HasASIMDDP)
}

// extremeRow returns n values of type typ whose bytes are all b, with the F16 scales kept
// finite, so that the integer sums reach the ends of their range.
func extremeRow(typ gguf.TensorType, n int, b byte) []byte {
	ts := typ.TypeSize()
	w := make([]byte, n/kernels[typ].codec.BlockSize()*ts)
	for i := range w {
		w[i] = b
		switch o := i % ts; {
		case (typ == gguf.TypeQ8_0 || typ == gguf.TypeQ4_0) && o < 2, typ == gguf.TypeQ4_K && o < 4,
			typ == gguf.TypeQ6_K && o >= 208:
			w[i] = []byte{0x00, 0x2C}[i%2] // F16 0.0625
		}
	}
	return w
}

// extremeActs returns the activation row of the quantized activations all equal to v.
func extremeActs(kind ActKind, n int, v int8) row {
	q := make([]int8, n)
	for i := range q {
		q[i] = v
	}
	bs := QK8
	if kind == ActQ8K {
		bs = QK_K
	}
	d := make([]float32, n/bs)
	for i := range d {
		d[i] = 0.01 * float32(i+1)
	}
	s := make([]int16, n/16)
	for i := range s {
		s[i] = 16 * int16(v)
	}
	return row{q: q, d: d, s: s}
}

// TestNEONMatchesPureGo checks every NEON kernel, with and without SDOT (where the CPU has
// it), against the pure-Go twin on random and extreme rows of lengths that exercise partial
// groups of blocks and chunks: bit for bit for the quantized types (both gather the same exact
// integer sums and scale them with the same code), within the float tolerance of
// TestSIMDMatchesPureGo for F16, whose sums are ordered differently.
func TestNEONMatchesPureGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 31))
	dps := []int{0}
	if cpu.ARM64.HasASIMDDP {
		dps = append(dps, 1)
	}
	for _, typ := range neonTypes {
		k := kernels[typ]
		for _, dp := range dps {
			var dot func(w []byte, r *row) float32
			switch typ {
			case gguf.TypeF16:
				dot = dotF16RowNEON
			case gguf.TypeQ8_0:
				dot = func(w []byte, r *row) float32 { return dotB32NEON(34, w, r, dp) }
			case gguf.TypeQ4_0:
				dot = func(w []byte, r *row) float32 { return dotB32NEON(18, w, r, dp) }
			case gguf.TypeQ4_K:
				dot = func(w []byte, r *row) float32 { return dotQ4_KNEON(w, r, dp) }
			case gguf.TypeQ6_K:
				dot = func(w []byte, r *row) float32 { return dotQ6_KNEON(w, r, dp) }
			}
			lengths := []int{256, 512, 768, 1280, 4096, 4352, 5120}
			if typ != gguf.TypeQ4_K && typ != gguf.TypeQ6_K {
				lengths = append(lengths, 32, 96, 160, 224)
			}
			if typ == gguf.TypeF16 {
				lengths = append(lengths, 1, 15, 17, 40)
			}
			for _, n := range lengths {
				type trial struct {
					name string
					w    []byte
					r    row
				}
				var trials []trial
				for range 3 {
					var a Acts
					a.Reset(randomActs(rng, 1, n), 1, n)
					a.prepare(k.act, nil)
					var r row
					a.row(k.act, 0, &r)
					trials = append(trials, trial{"random", randomRow(rng, typ, n), r})
				}
				if k.act != ActF32 {
					for _, b := range []byte{0x00, 0xFF, 0x80, 0x7F, 0x88} {
						for _, v := range []int8{-128, 127} {
							trials = append(trials, trial{"extreme", extremeRow(typ, n, b), extremeActs(k.act, n, v)})
						}
					}
				}
				for _, tr := range trials {
					got, want := dot(tr.w, &tr.r), k.dotGo(tr.w, &tr.r)
					if k.act != ActF32 {
						if math.Float32bits(got) != math.Float32bits(want) {
							t.Errorf("%s dp=%d n=%d %s: NEON %g, Go %g", typ, dp, n, tr.name, got, want)
						}
						continue
					}
					wf := make([]float32, n)
					k.codec.DequantizeRow(wf, tr.w)
					var mag float64
					for i := range wf {
						mag += math.Abs(float64(wf[i] * tr.r.f[i]))
					}
					if math.Abs(float64(got-want)) > 1e-5*mag+1e-6 {
						t.Errorf("%s n=%d: NEON %g, Go %g", typ, n, got, want)
					}
				}
			}
		}
	}
}
