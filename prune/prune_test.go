package prune

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// layer makes a random layer of rows × cols weights and calibration inputs with correlated
// columns of very different scales (as activations of real models have), returning the
// weights, X (tokens × cols, row-major), XᵀX and the squared column norms.
func layer(seed uint64, rows, cols, tokens int) (Matrix, []float64, []float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	w := Matrix{Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
	for i := range w.Data {
		w.Data[i] = float32(rng.NormFloat64() * 0.1)
	}
	mix := make([]float64, cols*cols)
	for i := range mix {
		mix[i] = rng.NormFloat64() / math.Sqrt(float64(cols))
	}
	scale := make([]float64, cols)
	for j := range scale {
		scale[j] = math.Exp(rng.NormFloat64())
	}
	x := make([]float64, tokens*cols)
	z := make([]float64, cols)
	for t := range tokens {
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		for j := range cols {
			s := z[j]
			for k := range cols {
				s += 0.5 * z[k] * mix[k*cols+j]
			}
			x[t*cols+j] = s * scale[j]
		}
	}
	h := make([]float64, cols*cols)
	norms := make([]float64, cols)
	for t := range tokens {
		xt := x[t*cols : (t+1)*cols]
		for i := range cols {
			norms[i] += xt[i] * xt[i]
			for j := range cols {
				h[i*cols+j] += xt[i] * xt[j]
			}
		}
	}
	return w, x, h, norms
}

func clone(m Matrix) Matrix {
	return Matrix{Rows: m.Rows, Cols: m.Cols, Data: append([]float32(nil), m.Data...)}
}

// choleskyLower returns L with A = LLᵀ for a symmetric positive definite n × n matrix, in
// float64, by the textbook Cholesky–Banachiewicz recurrence.
func choleskyLower(a []float64, n int) []float64 {
	l := make([]float64, n*n)
	for i := range n {
		for j := 0; j <= i; j++ {
			s := a[i*n+j]
			for k := range j {
				s -= l[i*n+k] * l[j*n+k]
			}
			if i == j {
				l[i*n+i] = math.Sqrt(s)
			} else {
				l[i*n+j] = s / l[j*n+j]
			}
		}
	}
	return l
}

// inverseSPD inverts a symmetric positive definite matrix through its Cholesky factor: solve
// LY = I, then LᵀZ = Y.
func inverseSPD(a []float64, n int) []float64 {
	l := choleskyLower(a, n)
	inv := make([]float64, n*n)
	for c := range n {
		y := make([]float64, n)
		for i := range n {
			s := 0.0
			if i == c {
				s = 1
			}
			for k := range i {
				s -= l[i*n+k] * y[k]
			}
			y[i] = s / l[i*n+i]
		}
		for i := n - 1; i >= 0; i-- {
			s := y[i]
			for k := i + 1; k < n; k++ {
				s -= l[k*n+i] * inv[k*n+c]
			}
			inv[i*n+c] = s / l[i*n+i]
		}
	}
	return inv
}

// sparseGPTDirect is the paper's algorithm written out directly in float64: no lazy batches
// (every column's error updates all later columns at once), its own Cholesky and inverse.
func sparseGPTDirect(w Matrix, h []float64, o Options) []float64 {
	o = o.withDefaults()
	n := w.Cols
	hd := append([]float64(nil), h...)
	mean := 0.0
	for i := range n {
		mean += hd[i*n+i]
	}
	mean /= float64(n)
	for i := range n {
		hd[i*n+i] += o.Damp * mean
	}
	inv := inverseSPD(hd, n)
	l := choleskyLower(inv, n) // H⁻¹ = LLᵀ, so U = Lᵀ
	u := func(i, j int) float64 { return l[j*n+i] }
	W := make([]float64, len(w.Data))
	for i, v := range w.Data {
		W[i] = float64(v)
	}
	mask := make([]bool, len(W))
	for j := range n {
		if j%o.BlockSize == 0 && o.Pattern.IsZero() {
			count := min(o.BlockSize, n-j)
			var score []float64
			for r := range w.Rows {
				for k := range count {
					v, d := W[r*n+j+k], u(j+k, j+k)
					score = append(score, v*v/(d*d))
				}
			}
			for _, idx := range lowest(score, removeCount(len(score), o.Sparsity)) {
				mask[(idx/count)*n+j+idx%count] = true
			}
		}
		for r := range w.Rows {
			if !o.Pattern.IsZero() && j%o.Pattern.M == 0 {
				score := make([]float64, o.Pattern.M)
				for t := range score {
					v, d := W[r*n+j+t], u(j+t, j+t)
					score[t] = v * v / (d * d)
				}
				for _, t := range lowest(score, o.Pattern.M-o.Pattern.N) {
					mask[r*n+j+t] = true
				}
			}
			q := W[r*n+j]
			if mask[r*n+j] {
				q = 0
			}
			e := (W[r*n+j] - q) / u(j, j)
			W[r*n+j] = q
			for t := j + 1; t < n; t++ {
				W[r*n+t] -= e * u(j, t)
			}
		}
	}
	return W
}

func TestSparseGPTMatchesDirectFloat64(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"unstructured-50", Options{Sparsity: 0.5, BlockSize: 16}},
		{"unstructured-70-one-block", Options{Sparsity: 0.7, BlockSize: 128}},
		{"2:4", Options{Pattern: Pattern{2, 4}, BlockSize: 16}},
		{"4:8", Options{Pattern: Pattern{4, 8}, BlockSize: 8, Damp: 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _, h, _ := layer(7, 12, 48, 200)
			want := sparseGPTDirect(w, h, tc.o)
			got := clone(w)
			if _, err := SparseGPT(got, h, tc.o); err != nil {
				t.Fatal(err)
			}
			for i, v := range got.Data {
				if (v == 0) != (want[i] == 0) {
					t.Fatalf("weight %d: pruned %v here, %v in the direct implementation", i, v == 0, want[i] == 0)
				}
				if d := math.Abs(float64(v) - want[i]); d > 1e-6*(1+math.Abs(want[i])) {
					t.Fatalf("weight %d: %g, direct float64 gives %g", i, v, want[i])
				}
			}
		})
	}
}

func sparsity(m Matrix) float64 {
	z := 0
	for _, v := range m.Data {
		if v == 0 {
			z++
		}
	}
	return float64(z) / float64(len(m.Data))
}

func checkPattern(t *testing.T, m Matrix, p Pattern) {
	t.Helper()
	for r := range m.Rows {
		row := m.Row(r)
		for g := 0; g < m.Cols; g += p.M {
			nz := 0
			for _, v := range row[g : g+p.M] {
				if v != 0 {
					nz++
				}
			}
			if nz > p.N {
				t.Fatalf("row %d group %d has %d nonzeros, pattern %s allows %d", r, g/p.M, nz, p, p.N)
			}
		}
	}
}

// TestReconstructionErrorOrder checks the papers' ordering on one layer: SparseGPT's error is
// below Wanda's, which is below magnitude's, unstructured and 2:4.
func TestReconstructionErrorOrder(t *testing.T) {
	for _, o := range []Options{{Sparsity: 0.5}, {Pattern: Pattern{2, 4}}} {
		w, _, h, norms := layer(3, 32, 64, 400)
		mag, wan, sg := clone(w), clone(w), clone(w)
		if err := Magnitude(mag, o); err != nil {
			t.Fatal(err)
		}
		if err := Wanda(wan, norms, o); err != nil {
			t.Fatal(err)
		}
		if _, err := SparseGPT(sg, h, o); err != nil {
			t.Fatal(err)
		}
		var e [3]float64
		for i, m := range []Matrix{mag, wan, sg} {
			if s := sparsity(m); math.Abs(s-0.5) > 1e-9 {
				t.Errorf("%v: method %d sparsity %g, want 0.5", o, i, s)
			}
			if !o.Pattern.IsZero() {
				checkPattern(t, m, o.Pattern)
			}
			var err error
			if e[i], err = ReconstructionError(w, m, h); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%+v: magnitude %.4g, wanda %.4g, sparsegpt %.4g", o, e[0], e[1], e[2])
		if !(e[2] < e[1] && e[1] < e[0]) {
			t.Errorf("%+v: errors magnitude %g, wanda %g, sparsegpt %g: want sparsegpt < wanda < magnitude", o, e[0], e[1], e[2])
		}
	}
}

func TestWandaPerRowSparsity(t *testing.T) {
	w, _, _, norms := layer(5, 8, 40, 50)
	if err := Wanda(w, norms, Options{Sparsity: 0.25}); err != nil {
		t.Fatal(err)
	}
	for r := range w.Rows {
		z := 0
		for _, v := range w.Row(r) {
			if v == 0 {
				z++
			}
		}
		if z != 10 {
			t.Errorf("row %d: %d zeros, want 10", r, z)
		}
	}
}

// TestWandaScoresByActivation checks that Wanda keeps a small weight on a loud input over a
// larger weight on a quiet one, where magnitude does the opposite.
func TestWandaScoresByActivation(t *testing.T) {
	w := Matrix{Rows: 1, Cols: 2, Data: []float32{0.5, 1}}
	if err := Wanda(w, []float64{100, 1}, Options{Sparsity: 0.5}); err != nil {
		t.Fatal(err)
	}
	if w.Data[0] == 0 || w.Data[1] != 0 {
		t.Errorf("Wanda kept %v, want the weight on the loud input", w.Data)
	}
	m := Matrix{Rows: 1, Cols: 2, Data: []float32{0.5, 1}}
	if err := Magnitude(m, Options{Sparsity: 0.5}); err != nil {
		t.Fatal(err)
	}
	if m.Data[0] != 0 || m.Data[1] == 0 {
		t.Errorf("Magnitude kept %v, want the larger weight", m.Data)
	}
}

func TestSparseGPTDeterministicAcrossThreads(t *testing.T) {
	w, _, h, _ := layer(11, 40, 32, 100)
	a, b := clone(w), clone(w)
	prev := runtime.GOMAXPROCS(1)
	_, err := SparseGPT(a, h, Options{Sparsity: 0.5, BlockSize: 8})
	runtime.GOMAXPROCS(4)
	_, err2 := SparseGPT(b, h, Options{Sparsity: 0.5, BlockSize: 8})
	runtime.GOMAXPROCS(prev)
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			t.Fatalf("weight %d differs between 1 and 4 threads", i)
		}
	}
}

func TestSparseGPTDeadColumns(t *testing.T) {
	w, _, h, _ := layer(13, 4, 8, 40)
	n := 8
	for i := range n { // input 3 never active
		h[3*n+i], h[i*n+3] = 0, 0
	}
	st, err := SparseGPT(w, h, Options{Sparsity: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if st.DeadColumns != 1 {
		t.Errorf("DeadColumns = %d, want 1", st.DeadColumns)
	}
	for r := range w.Rows {
		if w.Row(r)[3] != 0 {
			t.Errorf("row %d keeps a weight on a dead input", r)
		}
	}
}

func TestBadInput(t *testing.T) {
	w, _, h, norms := layer(1, 4, 12, 20)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"sparsity 1", Magnitude(clone(w), Options{Sparsity: 1})},
		{"sparsity negative", Wanda(clone(w), norms, Options{Sparsity: -0.1})},
		{"NaN sparsity", Magnitude(clone(w), Options{Sparsity: math.NaN()})},
		{"pattern does not divide", Magnitude(clone(w), Options{Pattern: Pattern{2, 8}})},
		{"pattern contradicts sparsity", Wanda(clone(w), norms, Options{Pattern: Pattern{2, 4}, Sparsity: 0.3})},
		{"norms of wrong length", Wanda(clone(w), norms[:3], Options{Sparsity: 0.5})},
		{"hessian of wrong size", func() error { _, err := SparseGPT(clone(w), h[:10], Options{Sparsity: 0.5}); return err }()},
		{"non-finite hessian", func() error {
			hh := append([]float64(nil), h...)
			hh[5] = math.Inf(1)
			_, err := SparseGPT(clone(w), hh, Options{Sparsity: 0.5})
			return err
		}()},
		{"block not a multiple of M", func() error {
			_, err := SparseGPT(clone(w), h, Options{Pattern: Pattern{2, 4}, BlockSize: 6})
			return err
		}()},
	} {
		if !errors.Is(tc.err, ErrBadInput) {
			t.Errorf("%s: got %v, want a bad-input error", tc.name, tc.err)
		}
	}
}

func TestParsePattern(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Pattern
		ok   bool
	}{
		{"", Pattern{}, true}, {"2:4", Pattern{2, 4}, true}, {"4:8", Pattern{4, 8}, true},
		{"4:4", Pattern{}, false}, {"2", Pattern{}, false}, {"a:4", Pattern{}, false}, {"-1:4", Pattern{}, false},
	} {
		got, err := ParsePattern(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePattern(%q) = %v, %v", tc.in, got, err)
		}
	}
}
