package quantize

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize/codec"
)

// gptqLayer is a random linear layer with correlated inputs: weights rows × cols and the Gram
// matrix of samples inputs x = A z (z standard normal, A random with a strong diagonal), some
// of them with a few large channels, as real activations have.
func gptqLayer(rows, cols, samples int, seed uint64) (w []float32, h []float64) {
	r := &rng{s: seed}
	w = make([]float32, rows*cols)
	for i := range w {
		w[i] = r.normal() * 0.05
	}
	a := make([]float64, cols*cols)
	for i := range cols {
		a[i*cols+i] = 1
		if i%13 == 0 {
			a[i*cols+i] = 5
		}
		for j := max(0, i-8); j < i; j++ {
			a[i*cols+j] = float64(r.normal()) * 0.4
		}
	}
	h = make([]float64, cols*cols)
	x := make([]float64, cols)
	z := make([]float64, cols)
	for range samples {
		for i := range z {
			z[i] = float64(r.normal())
		}
		for i := range x {
			s := 0.0
			for j := 0; j <= i; j++ {
				s += a[i*cols+j] * z[j]
			}
			x[i] = s
		}
		for i, xi := range x {
			for j, xj := range x {
				h[i*cols+j] += xi * xj
			}
		}
	}
	return w, h
}

// gptqReference is a direct float64 implementation of the same method in its original
// (Optimal Brain Quantization) form: the full inverse H⁻¹ of the dampened Gram matrix, each
// column's error (w−q)/[H⁻¹]_jj subtracted along row j of H⁻¹ from every weight not yet
// quantized, and H⁻¹ updated by removing column j — with the same block fits and grid.
func gptqReference(t *testing.T, typ gguf.TensorType, w []float32, cols int, h []float64, actOrder bool) []byte {
	t.Helper()
	g, _ := codec.LookupGrid(typ)
	n := cols
	rows := len(w) / n
	mean := 0.0
	for i := range n {
		mean += h[i*n+i]
	}
	mean /= float64(n)
	hd := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			hd.SetSym(i, j, h[i*n+j])
		}
		hd.SetSym(i, i, h[i*n+i]+0.01*mean)
	}
	var hinv mat.Dense
	if err := hinv.Inverse(hd); err != nil {
		t.Fatal(err)
	}
	order := columnOrder(h, n, actOrder)
	imp := blockImportance(nil, h, n, g.BlockSize())
	bs, ts := g.BlockSize(), g.TypeSize()
	out := make([]byte, rows*n/bs*ts)
	base := hinv.RawMatrix().Data // n × n, stride n
	hi := make([]float64, n*n)
	cj := make([]float64, n)
	for r := range rows {
		copy(hi, base)
		row := make([]float64, n)
		for j := range row {
			row[j] = float64(w[r*n+j])
		}
		done := make([]bool, n)
		fitted := make([]bool, n/bs)
		blocks := out[r*n/bs*ts : (r+1)*n/bs*ts]
		x := make([]float32, bs)
		for _, j := range order {
			b := j / bs
			blk := blocks[b*ts : (b+1)*ts]
			if !fitted[b] {
				for c := range x {
					x[c] = float32(row[b*bs+c])
				}
				g.FitBlock(blk, x, imp[b*bs:(b+1)*bs])
				fitted[b] = true
			}
			q := float64(g.Snap(blk, j%bs, float32(row[j])))
			d := hi[j*n+j]
			e := (row[j] - q) / d
			done[j] = true
			for l := range n {
				if !done[l] {
					row[l] -= e * hi[j*n+l]
				}
			}
			// H⁻¹ ← H⁻¹ − H⁻¹[:, j] H⁻¹[j, :] / H⁻¹[j, j]
			for l := range n {
				cj[l] = hi[l*n+j]
			}
			for a := range n {
				if cj[a] == 0 {
					continue
				}
				f := cj[a] / d
				ha := hi[a*n : (a+1)*n]
				for c, v := range cj {
					ha[c] -= f * v
				}
			}
		}
	}
	return out
}

// TestGPTQAgreesWithReference compares GPTQ (Cholesky factor, lazy batches) with the direct
// float64 form on a random layer: the decoded weights agree but for rare rounding ties, and
// the output errors agree closely.
func TestGPTQAgreesWithReference(t *testing.T) {
	const rows, cols = 4, 512
	w, h := gptqLayer(rows, cols, 1024, 7)
	for _, tc := range []struct {
		typ      gguf.TensorType
		actOrder bool
	}{
		{gguf.TypeQ4_K, false}, {gguf.TypeQ4_K, true}, {gguf.TypeQ8_0, true}, {gguf.TypeQ3_K, false},
	} {
		t.Run(fmt.Sprintf("%s/act-order=%v", tc.typ, tc.actOrder), func(t *testing.T) {
			c, _ := Lookup(tc.typ)
			got := make([]byte, rows*codec.RowSize(c, cols))
			if _, err := GPTQ(tc.typ, got, w, cols, h, nil, GPTQOptions{ActOrder: tc.actOrder, BlockSize: 64}); err != nil {
				t.Fatal(err)
			}
			want := gptqReference(t, tc.typ, w, cols, h, tc.actOrder)
			a, b := make([]float32, len(w)), make([]float32, len(w))
			if err := Dequantize(tc.typ, a, got); err != nil {
				t.Fatal(err)
			}
			if err := Dequantize(tc.typ, b, want); err != nil {
				t.Fatal(err)
			}
			diff := 0
			for i := range a {
				if a[i] != b[i] {
					diff++
				}
			}
			ea, eb := OutputError(w, a, cols, h), OutputError(w, b, cols, h)
			t.Logf("%d of %d weights differ; output error %g vs reference %g", diff, len(a), ea, eb)
			if float64(diff) > 0.01*float64(len(a)) {
				t.Errorf("%d of %d decoded weights differ from the reference", diff, len(a))
			}
			if math.Abs(ea-eb) > 0.01*eb {
				t.Errorf("output error %g, reference %g", ea, eb)
			}
		})
	}
}

// TestGPTQBeatsRoundToNearest checks on a random correlated layer that GPTQ's output error is
// below both the plain quantizer's and the imatrix-weighted quantizer's, for every grid type.
func TestGPTQBeatsRoundToNearest(t *testing.T) {
	const rows, cols = 32, 256
	w, h := gptqLayer(rows, cols, 768, 11)
	im := make([]float32, cols)
	for j := range im {
		im[j] = float32(h[j*cols+j] / 768)
	}
	for _, typ := range []gguf.TensorType{gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1,
		gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeIQ4_NL, gguf.TypeIQ4_XS} {
		c, _ := Lookup(typ)
		size := rows * codec.RowSize(c, cols)
		errOf := func(b []byte) float64 {
			d := make([]float32, len(w))
			if err := Dequantize(typ, d, b); err != nil {
				t.Fatal(err)
			}
			return OutputError(w, d, cols, h)
		}
		plain, weighted := make([]byte, size), make([]byte, size)
		if err := Quantize(typ, plain, w, cols, nil); err != nil {
			t.Fatal(err)
		}
		if err := Quantize(typ, weighted, w, cols, im); err != nil {
			t.Fatal(err)
		}
		for _, o := range []GPTQOptions{{}, {ActOrder: true}, {Search: true}} {
			g := make([]byte, size)
			if _, err := GPTQ(typ, g, w, cols, h, nil, o); err != nil {
				t.Fatal(err)
			}
			eg, ep, ew := errOf(g), errOf(plain), errOf(weighted)
			if eg >= ep || eg >= ew {
				t.Errorf("%s %+v: GPTQ output error %g, round-to-nearest %g, imatrix %g", typ, o, eg, ep, ew)
			}
		}
	}
}

// TestGPTQDeterministic checks that the bytes do not depend on the thread count.
func TestGPTQDeterministic(t *testing.T) {
	const rows, cols = 24, 512
	w, h := gptqLayer(rows, cols, 600, 5)
	c, _ := Lookup(gguf.TypeQ4_K)
	var first []byte
	for _, threads := range []int{1, 3, 8} {
		b := make([]byte, rows*codec.RowSize(c, cols))
		if _, err := GPTQ(gguf.TypeQ4_K, b, w, cols, h, nil, GPTQOptions{ActOrder: true, Threads: threads}); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatalf("%d threads gave different bytes", threads)
		}
	}
}

// TestGPTQBadInput checks the errors for inputs GPTQ cannot use.
func TestGPTQBadInput(t *testing.T) {
	w, h := gptqLayer(2, 256, 300, 3)
	nan := append([]float32{}, w...)
	nan[3] = float32(math.NaN())
	tests := []struct {
		name string
		typ  gguf.TensorType
		w    []float32
		cols int
		h    []float64
		dst  int
	}{
		{"no grid", gguf.TypeF16, w, 256, h, 1024},
		{"bad gram", gguf.TypeQ8_0, w, 256, h[:10], 2 * 8 * 34},
		{"ragged", gguf.TypeQ8_0, w[:500], 256, h, 2 * 8 * 34},
		{"nan", gguf.TypeQ8_0, nan, 256, h, 2 * 8 * 34},
		{"short dst", gguf.TypeQ8_0, w, 256, h, 10},
	}
	for _, tc := range tests {
		_, err := GPTQ(tc.typ, make([]byte, tc.dst), tc.w, tc.cols, tc.h, nil, GPTQOptions{})
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: got %v, want an invalid-input error", tc.name, err)
		}
	}
}
