package kernels

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
)

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// scaleOffsets lists the byte offsets of the F16 scale fields in one block of each type, which
// random test blocks overwrite with sane values.
var scaleOffsets = map[gguf.TensorType][]int{
	gguf.TypeQ4_0: {0}, gguf.TypeQ4_1: {0, 2}, gguf.TypeQ5_0: {0}, gguf.TypeQ5_1: {0, 2},
	gguf.TypeQ8_0: {0}, gguf.TypeIQ4_NL: {0}, gguf.TypeQ2_K: {80, 82}, gguf.TypeQ3_K: {108},
	gguf.TypeQ4_K: {0, 2}, gguf.TypeQ5_K: {0, 2}, gguf.TypeQ6_K: {208}, gguf.TypeIQ4_XS: {0},
	gguf.TypeIQ2_XXS: {0}, gguf.TypeIQ2_XS: {0}, gguf.TypeIQ2_S: {0}, gguf.TypeIQ3_XXS: {0},
	gguf.TypeIQ3_S: {0}, gguf.TypeIQ1_S: {0}, gguf.TypeTQ1_0: {52}, gguf.TypeTQ2_0: {64},
	// IQ1_M keeps its F16 scale in the top nibbles of its last four bytes' words: see randomRow.
}

// randomRow returns n values of type t with random content and finite scales.
func randomRow(rng *rand.Rand, t gguf.TensorType, n int) []byte {
	switch t {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16:
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		b := make([]byte, n*t.TypeSize())
		switch t {
		case gguf.TypeF32:
			dtype.EncodeF32(b, x)
		case gguf.TypeF16:
			dtype.EncodeF16(b, x)
		default:
			dtype.EncodeBF16(b, x)
		}
		return b
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	b := make([]byte, n/bs*ts)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for blk := 0; blk < n/bs; blk++ {
		for _, off := range scaleOffsets[t] {
			binary.LittleEndian.PutUint16(b[blk*ts+off:], dtype.F32ToF16(float32(rng.Float64()*0.02-0.005)))
		}
		if t == gguf.TypeIQ1_M { // scale bits 12-15 are the top nibble of the last word
			b[blk*ts+ts-1] = b[blk*ts+ts-1]&0x0f | 0x10 // exponent 2^-11..2^-8 or so: finite
		}
	}
	return b
}

func randomActs(rng *rand.Rand, ntok, n int) []float32 {
	x := make([]float32, ntok*n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		if i%97 == 0 {
			x[i] *= 20 // outliers, as real activations have
		}
	}
	return x
}

// TestDequantFixtures checks the dequantizers against the gguf Python package's reference
// dequantization of real llama-quantize output.
func TestDequantFixtures(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama")
	raw, err := os.ReadFile(filepath.Join(dir, "dequant", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index map[string]struct {
		GGUF, Tensor, Type string
		N                  int
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	files := map[string]*gguf.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	seen := map[string]bool{}
	for name, e := range index {
		t.Run(name, func(t *testing.T) {
			f := files[e.GGUF]
			if f == nil {
				if f, err = gguf.Open(filepath.Join(dir, "gguf", e.GGUF)); err != nil {
					t.Fatal(err)
				}
				files[e.GGUF] = f
			}
			info, ok := f.Tensor(e.Tensor)
			if !ok {
				t.Fatalf("tensor %s missing", e.Tensor)
			}
			if info.Type.String() != e.Type {
				t.Fatalf("type %s, index says %s", info.Type, e.Type)
			}
			seen[e.Type] = true
			data, _ := f.TensorDataByName(e.Tensor)
			got := make([]float32, e.N)
			if err := DequantizeRow(info.Type, got, data); err != nil {
				t.Fatal(err)
			}
			wantB, err := os.ReadFile(filepath.Join(dir, "dequant", name))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, e.N)
			dtype.DecodeF32(want, wantB)
			bad := 0
			for i := range want {
				// The reference computes in float32 in a different order; allow one ulp or so.
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*math.Abs(float64(want[i]))+1e-9 {
					if bad < 5 {
						t.Errorf("element %d: got %g, want %g", i, got[i], want[i])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d elements differ", bad, e.N)
			}
		})
	}
	for _, typ := range []string{"Q2_K", "Q3_K", "Q4_0", "Q4_1", "Q4_K", "Q5_0", "Q5_1", "Q5_K", "Q6_K", "Q8_0"} {
		if !seen[typ] {
			t.Errorf("no fixture exercised %s", typ)
		}
	}
}

// dotRef is the float64 dot product of a dequantized weight row with the activations as the
// kernel sees them (dequantized from their 8-bit form when the type uses one).
func dotRef(t gguf.TensorType, w []byte, a *Acts, tok int) float64 {
	n := a.N
	wf := make([]float32, n)
	kernels[t].codec.DequantizeRow(wf, w)
	var r row
	a.row(kernels[t].act, tok, &r)
	var s float64
	for i := range n {
		x := float64(r.f[i])
		switch kernels[t].act {
		case ActQ8:
			x = float64(r.q[i]) * float64(r.d[i/QK8])
		case ActQ8K:
			x = float64(r.q[i]) * float64(r.d[i/QK_K])
		}
		s += float64(wf[i]) * x
	}
	return s
}

// TestDotMatchesDequant checks every type's dot product (pure Go and SIMD) against the float64
// dot product of its dequantized row, on random blocks.
func TestDotMatchesDequant(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1024
	for _, typ := range SupportedTypes() {
		t.Run(typ.String(), func(t *testing.T) {
			k := kernels[typ]
			x := randomActs(rng, 3, n)
			var a Acts
			a.Reset(x, 3, n)
			a.prepare(k.act, nil)
			for trial := range 4 {
				w := randomRow(rng, typ, n)
				for tok := range 3 {
					want := dotRef(typ, w, &a, tok)
					var r row
					a.row(k.act, tok, &r)
					var scale float64 // magnitude of the terms, for a relative tolerance
					wf := make([]float32, n)
					k.codec.DequantizeRow(wf, w)
					for i := range n {
						scale += math.Abs(float64(wf[i]) * float64(r.f[i]))
					}
					for _, impl := range []struct {
						name string
						fn   func([]byte, *row) float32
					}{{"go", k.dotGo}, {"simd", k.dot}} {
						got := float64(impl.fn(w, &r))
						if math.Abs(got-want) > 1e-5*scale+1e-6 {
							t.Errorf("trial %d token %d %s: got %g, want %g (scale %g)", trial, tok, impl.name, got, want, scale)
						}
					}
				}
			}
		})
	}
}

// TestQuantizeActs checks the activation quantizers: values within half a step, sums exact.
func TestQuantizeActs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randomActs(rng, 1, 512)
	x[5] = 0
	for i := 256; i < 288; i++ {
		x[i] = 0 // an all-zero block must give zero scale and values
	}
	q := make([]int8, 512)
	d := make([]float32, 16)
	s := make([]int16, 32)
	QuantizeQ8(q, d, s[:16], x)
	for i, v := range x {
		step := d[i/32]
		if math.Abs(float64(v)-float64(q[i])*float64(step)) > float64(step)/2*1.0001 {
			t.Fatalf("Q8 element %d: %g quantized to %d*%g", i, v, q[i], step)
		}
	}
	for b := range 16 {
		var sum int
		for _, v := range q[b*32 : b*32+32] {
			sum += int(v)
		}
		if int(s[b]) != sum {
			t.Fatalf("Q8 block %d sum %d, want %d", b, s[b], sum)
		}
	}
	if d[8] != 0 {
		t.Fatalf("zero block has scale %g", d[8])
	}
	QuantizeQ8K(q, d[:2], s, x)
	for i, v := range x {
		step := d[i/256]
		if math.Abs(float64(v)-float64(q[i])*float64(step)) > float64(step)/2*1.0001 {
			t.Fatalf("Q8K element %d: %g quantized to %d*%g", i, v, q[i], step)
		}
	}
	for j := range 32 {
		var sum int
		for _, v := range q[j*16 : j*16+16] {
			sum += int(v)
		}
		if int(s[j]) != sum {
			t.Fatalf("Q8K group %d sum %d, want %d", j, s[j], sum)
		}
	}
}

// TestMatMulThreads checks that MatMul gives identical bits whatever the thread count and that
// each element equals the row's dot product.
func TestMatMulThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const rows, cols = 37, 512
	for _, c := range []struct {
		typ  gguf.TensorType
		ntok int
	}{{gguf.TypeF16, 5}, {gguf.TypeQ8_0, 5}, {gguf.TypeQ4_K, 5}, {gguf.TypeQ6_K, 5}, {gguf.TypeF16, 37}, {gguf.TypeQ8_0, 37}, {gguf.TypeQ4_K, 37}, {gguf.TypeQ5_K, 37}, {gguf.TypeQ6_K, 37}} {
		typ, ntok := c.typ, c.ntok
		data := randomRow(rng, typ, rows*cols)
		w, err := NewMatrix(typ, rows, cols, data)
		if err != nil {
			t.Fatal(err)
		}
		x := randomActs(rng, ntok, cols)
		var ref []float32
		for _, threads := range []int{1, 2, 3, 8} {
			p := NewPool(threads)
			var a Acts
			a.Reset(x, ntok, cols)
			dst := make([]float32, ntok*rows)
			MatMul(p, dst, w, &a)
			p.Close()
			if ref == nil {
				ref = dst
				for tok := range ntok {
					for r := range rows {
						if want := dotRef(typ, data[r*w.RowBytes():(r+1)*w.RowBytes()], &a, tok); math.Abs(float64(dst[tok*rows+r])-want) > 1e-3*math.Max(1, math.Abs(want)) {
							t.Fatalf("%s: [%d,%d] = %g, want %g", typ, tok, r, dst[tok*rows+r], want)
						}
					}
				}
				continue
			}
			for i := range dst {
				if math.Float32bits(dst[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%s: %d threads: element %d = %g, 1 thread gave %g", typ, threads, i, dst[i], ref[i])
				}
			}
		}
	}
}

func TestNewMatrixErrors(t *testing.T) {
	cases := []struct {
		name       string
		typ        gguf.TensorType
		rows, cols int
		bytes      int
	}{
		{"short data", gguf.TypeF32, 2, 4, 31},
		{"long data", gguf.TypeQ8_0, 1, 32, 35},
		{"bad block multiple", gguf.TypeQ4_K, 1, 32, 18},
		{"empty", gguf.TypeF32, 0, 4, 0},
		{"unsupported", gguf.TypeI32, 1, 1, 4},
	}
	for _, c := range cases {
		if _, err := NewMatrix(c.typ, c.rows, c.cols, make([]byte, c.bytes)); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestDequantizeRowErrors(t *testing.T) {
	cases := []struct {
		name   string
		typ    gguf.TensorType
		values int
		bytes  int
	}{
		{"short row", gguf.TypeQ4_0, 32, 17},
		{"long row", gguf.TypeQ4_K, 256, 145},
		{"partial block", gguf.TypeQ8_0, 33, 36},
		{"no kernel", gguf.TypeQ8_K, 256, 292},
		{"unknown type", gguf.TypeI32, 1, 4},
	}
	for _, c := range cases {
		if err := DequantizeRow(c.typ, make([]float32, c.values), make([]byte, c.bytes)); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// TestMatrixGeometryMatchesGGUF checks that the row sizes the kernels take from the codec table
// are the ones GGUF files are laid out with.
func TestMatrixGeometryMatchesGGUF(t *testing.T) {
	for _, typ := range SupportedTypes() {
		for _, cols := range []int{256, 4096} {
			want, err := typ.RowSize(int64(cols))
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewMatrix(typ, 3, cols, make([]byte, 3*want))
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			if m.RowBytes() != int(want) {
				t.Errorf("%s: %d columns: %d bytes a row, GGUF has %d", typ, cols, m.RowBytes(), want)
			}
		}
	}
}
