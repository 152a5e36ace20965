package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// withPureGo runs f with UsePureGo set to pure and restores it.
func withPureGo(pure bool, f func()) {
	defer func(v bool) { UsePureGo = v }(UsePureGo)
	UsePureGo = pure
	f()
}

func TestExpf32(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{0, 1}, {1, math.E}, {-1, 1 / math.E}, {-200, 0}, {float64(math.Inf(-1)), 0}, {-104, 0},
	} {
		got := expf32(float32(c.x))
		if math.Abs(float64(got)-c.want) > 2e-7*c.want {
			t.Errorf("expf32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if got := expf32(100); !math.IsInf(float64(got), 1) && got < 3e38 {
		t.Errorf("expf32(100) = %g, want the top of the range", got)
	}
	var worst float64
	for x := -87.0; x < 88; x += 0.001 {
		got, want := float64(expf32(float32(x))), math.Exp(float64(float32(x)))
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 3e-7 {
		t.Errorf("expf32 relative error %g over [-87, 88]", worst)
	}
}

// TestGemmF32 checks GemmF32 on shapes that mix every tile with the pure-Go edges, against a
// float64 product and between the SIMD and pure-Go paths (which must agree exactly).
func TestGemmF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	for _, s := range []struct{ m, n, k int }{
		{1, 1, 1}, {3, 17, 5}, {8, 32, 32}, {9, 33, 64}, {16, 64, 32}, {32, 160, 64}, {13, 200, 129}, {4, 64, 0},
	} {
		lda, ldb, ldc := s.k+3, s.n+5, s.n+1
		a := randomActs(rng, max(s.m, 1), lda)
		b := randomActs(rng, max(s.k, 1), ldb)
		var got, want []float32
		for _, pure := range []bool{false, true} {
			c := make([]float32, s.m*ldc)
			for i := range c {
				c[i] = float32(i) // overwritten inside the block, kept outside
			}
			withPureGo(pure, func() { GemmF32(s.m, s.n, s.k, a, lda, b, ldb, c, ldc) })
			if pure {
				want = c
			} else {
				got = c
			}
		}
		for i := range s.m {
			for j := range ldc {
				g, w := got[i*ldc+j], want[i*ldc+j]
				if math.Float32bits(g) != math.Float32bits(w) {
					t.Fatalf("%v [%d,%d]: SIMD %g, Go %g", s, i, j, g, w)
				}
				if j >= s.n {
					if g != float32(i*ldc+j) {
						t.Fatalf("%v: wrote outside the block at [%d,%d]", s, i, j)
					}
					continue
				}
				var ref, mag float64
				for p := range s.k {
					v := float64(a[i*lda+p]) * float64(b[p*ldb+j])
					ref += v
					mag += math.Abs(v)
				}
				if math.Abs(float64(g)-ref) > 1e-6*mag+1e-30 {
					t.Fatalf("%v [%d,%d]: %g, want %g", s, i, j, g, ref)
				}
			}
		}
	}
}

func TestSoftmaxExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	for _, n := range []int{1, 5, 16, 17, 31, 64, 100, 1000} {
		x := randomActs(rng, 1, n)
		x[n/2] = float32(math.Inf(-1)) // masked positions
		var outs [2][]float32
		var sums [2]float32
		for i, pure := range []bool{false, true} {
			y := append([]float32(nil), x...)
			withPureGo(pure, func() { sums[i] = SoftmaxExp(y) })
			outs[i] = y
		}
		if math.Float32bits(sums[0]) != math.Float32bits(sums[1]) {
			t.Errorf("n=%d: sum SIMD %g, Go %g", n, sums[0], sums[1])
		}
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for i, v := range x {
			if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
				t.Fatalf("n=%d element %d: SIMD %g, Go %g", n, i, outs[0][i], outs[1][i])
			}
			want := math.Exp(float64(v - float32(m))) // the argument is rounded to float32 first
			sum += want
			if math.Abs(float64(outs[0][i])-want) > 3e-7*want {
				t.Fatalf("n=%d element %d: %g, want %g", n, i, outs[0][i], want)
			}
		}
		if math.Abs(float64(sums[0])-sum) > 1e-6*sum {
			t.Errorf("n=%d: sum %g, want %g", n, sums[0], sum)
		}
	}
}

func TestSwiGLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	for _, n := range []int{1, 15, 16, 33, 768} {
		g, u := randomActs(rng, 1, n), randomActs(rng, 1, n)
		g[0], u[0] = -200, 3 // exp(200) overflows: silu → -0
		var outs [2][]float32
		for i, pure := range []bool{false, true} {
			y := append([]float32(nil), g...)
			withPureGo(pure, func() { SwiGLU(y, u) })
			outs[i] = y
		}
		for i := range g {
			if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
				t.Fatalf("n=%d element %d: SIMD %g, Go %g", n, i, outs[0][i], outs[1][i])
			}
			gv := float64(g[i])
			want := gv / (1 + math.Exp(-gv)) * float64(u[i])
			if math.Abs(float64(outs[0][i])-want) > 1e-6*math.Abs(want)+1e-30 {
				t.Fatalf("n=%d element %d: %g, want %g", n, i, outs[0][i], want)
			}
		}
	}
}

// TestQuantizeSIMDExact checks that the SIMD quantizers give the pure-Go bytes, scales and
// sums, including values that land exactly half way between two steps and all-zero blocks.
func TestQuantizeSIMDExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	x := randomActs(rng, 1, 2048)
	for i := 0; i < 256; i += 2 {
		x[i] = float32(i%254-127) + 0.5 // ties once scaled by 127/127
	}
	x[1] = 127
	clear(x[512:768])
	for _, f := range []struct {
		name  string
		fn    func(q []int8, d []float32, s []int16, x []float32)
		ns    int
		block int
	}{{"Q8", QuantizeQ8, 1, QK8}, {"Q8K", QuantizeQ8K, 16, QK_K}} {
		nb := len(x) / f.block
		var qs [2][]int8
		var ds [2][]float32
		var ss [2][]int16
		for i, pure := range []bool{false, true} {
			qs[i], ds[i], ss[i] = make([]int8, len(x)), make([]float32, nb), make([]int16, nb*f.ns)
			withPureGo(pure, func() { f.fn(qs[i], ds[i], ss[i], x) })
		}
		for i := range qs[0] {
			if qs[0][i] != qs[1][i] {
				t.Fatalf("%s value %d (%g): SIMD %d, Go %d", f.name, i, x[i], qs[0][i], qs[1][i])
			}
		}
		for i := range ds[0] {
			if math.Float32bits(ds[0][i]) != math.Float32bits(ds[1][i]) {
				t.Fatalf("%s scale %d: SIMD %g, Go %g", f.name, i, ds[0][i], ds[1][i])
			}
		}
		for i := range ss[0] {
			if ss[0][i] != ss[1][i] {
				t.Fatalf("%s sum %d: SIMD %d, Go %d", f.name, i, ss[0][i], ss[1][i])
			}
		}
	}
}

// groupTwins lists the pure-Go twins of the 16-token kernels by weight type.
var groupTwins = map[gguf.TensorType]groupKernel{
	gguf.TypeQ4_K: {prepBytes: prepK8Bytes, prep: prepQ4_KGo, mul: mulK8Go, act: ActQ8K},
	gguf.TypeQ5_K: {prepBytes: prepK8Bytes, prep: prepQ5_KGo, mul: mulK8Go, act: ActQ8K},
	gguf.TypeQ6_K: {prepBytes: prepQ6KBytes, prep: prepQ6_KGo, mul: mulQ6_KGo, act: ActQ8K},
	gguf.TypeQ8_0: {prepBytes: prepB32Bytes, prep: prepQ8_0Go, mul: mulB32Go, act: ActQ8},
	gguf.TypeQ4_0: {prepBytes: prepB32Bytes, prep: prepQ4_0Go, mul: mulB32Go, act: ActQ8},
}

// TestGroupKernelsExact checks the SIMD 16-token kernels (preparation and product) against
// their pure-Go twins bit for bit, with a last group only partly filled with tokens.
func TestGroupKernelsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	for typ, twin := range groupTwins {
		gk := kernels[typ].g16
		if gk == nil {
			t.Logf("%s: no SIMD 16-token kernel here", typ)
			continue
		}
		const ntok = 27
		n, nb := 768, 3
		if kernels[typ].act == ActQ8 {
			n, nb = 800, 25 // four blocks at a time and a last one
		}
		w := randomRow(rng, typ, 3*n)
		rb := len(w) / 3
		var a Acts
		a.Reset(randomActs(rng, ntok, n), ntok, n)
		a.prepare(kernels[typ].act, nil)
		g := a.group(twin.act, 2, nil)
		var preps [2][]byte
		var outs [2][]float32
		for i, k := range []groupKernel{*gk, twin} {
			preps[i] = make([]byte, 3*nb*k.prepBytes)
			for r := range 3 {
				k.prep(preps[i][r*nb*k.prepBytes:], w[r*rb:(r+1)*rb], nb)
			}
			outs[i] = make([]float32, 4*2*groupTokens)
			k.mul(preps[i], nb*k.prepBytes, nb, g, 0, 2, outs[i], 2*groupTokens)
			k.mul(preps[i][2*nb*k.prepBytes:], 0, nb, g, 1, 1, outs[i][2*2*groupTokens:], groupTokens)
		}
		for i := range preps[0] {
			if preps[0][i] != preps[1][i] {
				t.Fatalf("%s: prepared byte %d: SIMD %#x, Go %#x", typ, i, preps[0][i], preps[1][i])
			}
		}
		for i := range outs[0] {
			if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
				t.Fatalf("%s: output %d: SIMD %g, Go %g", typ, i, outs[0][i], outs[1][i])
			}
		}
		// And the values are the dot products.
		for r := range 2 {
			for tok := range ntok {
				var rt row
				a.row(kernels[typ].act, tok, &rt)
				want := kernels[typ].dotGo(w[r*rb:(r+1)*rb], &rt)
				got := outs[1][r*2*groupTokens+tok]
				if math.Abs(float64(got-want)) > 1e-4*math.Abs(float64(want))+1e-3 {
					t.Errorf("%s row %d token %d: %g, dot %g", typ, r, tok, got, want)
				}
			}
		}
	}
}

// TestBatchInvariantTypes checks that for Q8_0 and Q4_0 every kernel (one token, four tokens,
// 16 tokens, pure Go) gives a token the same bits, so that a batch evaluated in pieces (a
// cached prefix, then the rest) matches one evaluated at once.
func TestBatchInvariantTypes(t *testing.T) {
	defer func(v bool) { UsePureGo = v }(UsePureGo)
	rng := rand.New(rand.NewPCG(17, 17))
	const rows, cols, ntok = 21, 800, 37
	for _, typ := range []gguf.TensorType{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		w, err := NewMatrix(typ, rows, cols, randomRow(rng, typ, rows*cols))
		if err != nil {
			t.Fatal(err)
		}
		x := randomActs(rng, ntok, cols)
		mul := func(pure bool, t0, t1 int) []float32 {
			UsePureGo = pure
			var a Acts
			a.Reset(x[t0*cols:t1*cols], t1-t0, cols)
			dst := make([]float32, (t1-t0)*rows)
			MatMul(nil, dst, w, &a)
			return dst
		}
		whole := mul(false, 0, ntok)
		for _, split := range [][2]int{{0, 1}, {5, 9}, {3, 20}, {36, 37}, {0, ntok}} {
			for _, pure := range []bool{false, true} {
				part := mul(pure, split[0], split[1])
				for i, v := range part {
					if want := whole[split[0]*rows+i]; math.Float32bits(v) != math.Float32bits(want) {
						t.Fatalf("%s tokens %v (pure Go %v): element %d = %g, whole batch %g", typ, split, pure, i, v, want)
					}
				}
			}
		}
	}
}

func TestTranspose16(t *testing.T) {
	src := make([]float32, 16*21)
	for i := range src {
		src[i] = float32(i)
	}
	for _, pure := range []bool{false, true} {
		dst := make([]float32, 16*19)
		withPureGo(pure, func() { transpose16(src, 21, dst, 19) })
		for i := range 16 {
			for j := range 16 {
				if dst[j*19+i] != src[i*21+j] {
					t.Fatalf("pure Go %v: dst[%d][%d] = %g, want %g", pure, j, i, dst[j*19+i], src[i*21+j])
				}
			}
			for j := 16; j < 19 && i < 15; j++ {
				if dst[i*19+j] != 0 {
					t.Fatalf("pure Go %v: wrote outside the block at [%d][%d]", pure, i, j)
				}
			}
		}
	}
}
