//go:build amd64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
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

// kquantRow builds Q8_K activations from the values q with one scale per 256 (the per-16
// sums computed from q), as the quantizer would lay them out.
func kquantRow(q []int8, d []float32) row {
	s := make([]int16, len(q)/16)
	for j := range s {
		for _, v := range q[16*j : 16*j+16] {
			s[j] += int16(v)
		}
	}
	f := make([]float32, len(q))
	for i, v := range q {
		f[i] = float32(v) * d[i/QK_K]
	}
	return row{f: f, q: q, d: d, s: s}
}

// adversarialKRow returns n values of type typ made of extreme bytes (all bits set, none,
// sign bits), with finite scales, and Q8_K activations at the ends of their range, so that the
// integer sums reach their largest magnitudes (the 16-bit products of the VNNI kernels).
func adversarialKRow(rng *rand.Rand, typ gguf.TensorType, n int) ([]byte, row) {
	w := randomRow(rng, typ, n)
	pick := []byte{0x00, 0xFF, 0x80, 0x7F, 0xFF, 0xFF}
	ts := typ.TypeSize()
	mode := rng.IntN(3)
	for i := range w {
		if (typ == gguf.TypeQ4_K && i%ts < 4) || (typ == gguf.TypeQ6_K && i%ts >= 208) {
			continue // keep the F16 super-scales finite
		}
		switch mode {
		case 0:
			w[i] = 0xFF
		default:
			w[i] = pick[rng.IntN(len(pick))]
		}
	}
	q := make([]int8, n)
	for i := range q {
		switch mode {
		case 0:
			q[i] = -128
		case 1:
			q[i] = 127
		default:
			q[i] = []int8{-128, 127, -127, 0}[rng.IntN(4)]
		}
	}
	d := make([]float32, n/QK_K)
	for i := range d {
		d[i] = float32(rng.Float64()*0.1 + 0.01)
	}
	return w, kquantRow(q, d)
}

// kquantDotCase is a one-token (fn) or four-token (fn4) K-quant kernel compiled for amd64 and
// whether this CPU runs it.
type kquantDotCase struct {
	name string
	typ  gguf.TensorType
	ok   bool
	fn   func(w *byte, q *int8, d *float32, s *int16, nb int) float32
	fn4  func(w *byte, q *int8, qs int, d *float32, ds int, s *int16, ss int, nb int, out *float32)
}

func kquantDotCases() []kquantDotCase {
	hasAVX2 := cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
	hasVNNI := hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512GFNI
	return []kquantDotCase{
		{"dotQ4_KAVX2", gguf.TypeQ4_K, hasAVX2, dotQ4_KAVX2, nil},
		{"dotQ6_KAVX2", gguf.TypeQ6_K, hasAVX2, dotQ6_KAVX2, nil},
		{"dotQ4_KAVX512", gguf.TypeQ4_K, hasVNNI, dotQ4_KAVX512, nil},
		{"dotQ6_KAVX512", gguf.TypeQ6_K, hasVNNI, dotQ6_KAVX512, nil},
		{"dotQ4_Kx4AVX2", gguf.TypeQ4_K, hasAVX2, nil, dotQ4_Kx4AVX2},
		{"dotQ6_Kx4AVX2", gguf.TypeQ6_K, hasAVX2, nil, dotQ6_Kx4AVX2},
		{"dotQ4_Kx4AVX512", gguf.TypeQ4_K, hasVNNI, nil, dotQ4_Kx4AVX512},
		{"dotQ6_Kx4AVX512", gguf.TypeQ6_K, hasVNNI, nil, dotQ6_Kx4AVX512},
	}
}

// run computes the kernel's dot products of w with the len(rs) tokens rs (1, or 4 for fn4),
// whose activations it first lays out one after the other as MatMul does.
func (c kquantDotCase) run(w []byte, rs []row) []float32 {
	if c.fn != nil {
		r := rs[0]
		return []float32{c.fn(&w[0], &r.q[0], &r.d[0], &r.s[0], len(r.d))}
	}
	var q []int8
	var d []float32
	var s []int16
	for _, r := range rs {
		q, d, s = append(q, r.q...), append(d, r.d...), append(s, r.s...)
	}
	n, nb := len(rs[0].q), len(rs[0].d)
	out := make([]float32, 4)
	c.fn4(&w[0], &q[0], n, &d[0], 4*nb, &s[0], 32*nb, nb, &out[0])
	return out
}

// TestKQuantDotKernels checks each one- and four-token K-quant kernel compiled for this machine
// (AVX2, and AVX-512 VNNI where the CPU has it) against the pure-Go twin and the float64 dot
// product of the dequantized weights, on random and adversarial rows of several lengths.
func TestKQuantDotKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	for _, c := range kquantDotCases() {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Skip("CPU lacks the instructions")
			}
			k := kernels[c.typ]
			ntok := 1
			if c.fn4 != nil {
				ntok = 4
			}
			for _, n := range []int{256, 512, 4096, 11008} {
				for trial := range 6 {
					var w []byte
					rs := make([]row, ntok)
					kind := "random"
					if trial < 3 {
						w = randomRow(rng, c.typ, n)
						var a Acts
						a.Reset(randomActs(rng, ntok, n), ntok, n)
						a.prepare(ActQ8K, nil)
						for tok := range rs {
							a.row(ActQ8K, tok, &rs[tok])
						}
					} else {
						kind = "adversarial"
						w, rs[0] = adversarialKRow(rng, c.typ, n)
						for tok := 1; tok < ntok; tok++ {
							_, rs[tok] = adversarialKRow(rng, c.typ, n)
						}
					}
					got := c.run(w, rs)
					wf := make([]float32, n)
					k.codec.DequantizeRow(wf, w)
					for tok, r := range rs {
						goTwin := float64(k.dotGo(w, &r))
						var ref, mag float64
						for i := range wf {
							x := float64(r.q[i]) * float64(r.d[i/QK_K])
							ref += float64(wf[i]) * x
							mag += math.Abs(float64(wf[i]) * x)
						}
						g := float64(got[tok])
						tol := 1e-5*mag + 1e-6
						if math.Abs(g-goTwin) > tol || math.Abs(g-ref) > tol || math.Abs(goTwin-ref) > tol {
							t.Errorf("n=%d %s trial %d token %d: kernel %g, Go %g, float64 %g (magnitude %g)", n, kind, trial, tok, g, goTwin, ref, mag)
						}
					}
				}
			}
		})
	}
}

// BenchmarkKQuantDot measures the one- and four-token K-quant kernels on one thread: 64 rows of
// 4096 weights (in the L2 cache) times one or four tokens, reporting weight bytes per second.
func BenchmarkKQuantDot(b *testing.B) {
	const n, rows = 4096, 64
	rng := rand.New(rand.NewPCG(22, 22))
	var a Acts
	a.Reset(randomActs(rng, 4, n), 4, n)
	a.prepare(ActQ8K, nil)
	var r row
	a.row(ActQ8K, 0, &r)
	q, d, s := unsafe.Slice(&r.q[0], 4*n), unsafe.Slice(&r.d[0], 4*n/QK_K), unsafe.Slice(&r.s[0], 4*n/16)
	for _, c := range kquantDotCases() {
		b.Run(c.name, func(b *testing.B) {
			if !c.ok {
				b.Skip("CPU lacks the instructions")
			}
			w := randomRow(rng, c.typ, rows*n)
			rb := len(w) / rows
			b.SetBytes(int64(len(w)))
			var sink float32
			var out [4]float32
			for b.Loop() {
				for i := range rows {
					if c.fn != nil {
						sink += c.fn(&w[i*rb], &q[0], &d[0], &s[0], len(r.d))
					} else {
						c.fn4(&w[i*rb], &q[0], n, &d[0], 4*n/QK_K, &s[0], 32*n/QK_K, len(r.d), &out[0])
						sink += out[0]
					}
				}
			}
			_ = sink
		})
	}
}
