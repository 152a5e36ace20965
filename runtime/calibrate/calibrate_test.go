package calibrate

import (
	"context"
	"errors"
	"math"
	"math/big"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
)

// tinyModel writes a random two-block F32 llama model and returns its path.
func tinyModel(t *testing.T) string {
	t.Helper()
	cfg := convert.Config{Arch: "llama", VocabSize: 67, Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16,
		FFN: 96, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 16, BOS: 1, EOS: 2}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := runtime.WriteRandomModel(path, runtime.RandomModelOptions{Config: cfg, Type: gguf.TypeF32, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	return path
}

// sequences returns n token sequences of length l.
func sequences(n, l int) [][]int32 {
	seqs := make([][]int32, n)
	for i := range seqs {
		for j := range l {
			seqs[i] = append(seqs[i], int32((7*i+13*j+3)%67))
		}
	}
	return seqs
}

// recorder keeps copies of every observation.
type recorder struct{ seen []runtime.Activations }

func (r *recorder) Add(a runtime.Activations) {
	a.X = slices.Clone(a.X)
	r.seen = append(r.seen, a)
}

// accumulators is one of each accumulator.
type accumulators struct {
	cols   *ColumnSquares
	gram   *Gram
	blocks *BlockDistance
	capt   *Capture
	rec    *recorder
}

// collect runs seqs through the tiny model at path with a collector of fresh accumulators.
func collect(t *testing.T, path string, seqs [][]int32, threads int, layers []int) accumulators {
	t.Helper()
	a := accumulators{&ColumnSquares{}, &Gram{Threads: threads}, &BlockDistance{}, &Capture{Site: runtime.SiteBlockInput, Layer: 1}, &recorder{}}
	c := New(a.cols, a.gram, a.blocks, a.capt, a.rec)
	c.Layers = layers
	m, err := runtime.Load(path, runtime.Options{Threads: threads, ActivationObserver: c.Observe})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := Run(context.Background(), m, seqs, RunOptions{BatchSize: 5, Logits: true}); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAccumulatorsMatchDirect checks every accumulator against a direct float64 computation
// over the activations the observer reported (three sequences of 12 tokens in micro-batches of
// 5): the sums of squares per column, XᵀX per matrix input (shared by q, k and v, and by gate
// and up), 1−cos per block and the captured block inputs.
func TestAccumulatorsMatchDirect(t *testing.T) {
	a := collect(t, tinyModel(t), sequences(3, 12), 3, nil)

	wantCols := map[string]quantize.ColumnStats{}
	exact := map[string][]*big.Float{} // the column squares summed exactly
	type key struct {
		site  runtime.Site
		layer int
	}
	wantGram := map[key]*quantize.Gram{}
	var gramOrder []key
	var blockIn []float32
	wantBlocks := make([]BlockStat, 2)
	var wantCapture [][]float32
	for _, o := range a.rec.seen {
		n := o.Cols
		switch o.Site {
		case runtime.SiteBlockInput:
			blockIn = o.X
			if o.Layer == 1 {
				wantCapture = append(wantCapture, o.X)
			}
			continue
		case runtime.SiteBlockOutput:
			for r := range o.Rows {
				var xy, xx, yy float64
				for j := range n {
					x, y := float64(blockIn[r*n+j]), float64(o.X[r*n+j])
					xy, xx, yy = xy+x*y, xx+x*x, yy+y*y
				}
				wantBlocks[o.Layer].Sum += 1 - xy/math.Sqrt(xx*yy)
			}
			wantBlocks[o.Layer].Count += int64(o.Rows)
			continue
		}
		for _, w := range o.Weights {
			e, ok := wantCols[w]
			if !ok {
				e = quantize.ColumnStats{Sums: make([]float64, n), Counts: []int64{0}}
				exact[w] = make([]*big.Float, n)
				for j := range exact[w] {
					exact[w][j] = new(big.Float).SetPrec(2048)
				}
			}
			for r := range o.Rows {
				for j := range n {
					exact[w][j].Add(exact[w][j], new(big.Float).SetFloat64(float64(o.X[r*n+j])*float64(o.X[r*n+j])))
				}
			}
			e.Counts[0] += int64(o.Rows)
			wantCols[w] = e
		}
		k := key{o.Site, o.Layer}
		g := wantGram[k]
		if g == nil {
			g = &quantize.Gram{Weights: o.Weights, N: n, Sum: make([]float64, n*n)}
			wantGram[k] = g
			gramOrder = append(gramOrder, k)
		}
		for r := range o.Rows {
			for i := range n {
				for j := range n {
					g.Sum[i*n+j] += float64(o.X[r*n+i]) * float64(o.X[r*n+j])
				}
			}
		}
		g.Count += int64(o.Rows)
	}

	for w, e := range wantCols {
		for j := range e.Sums {
			e.Sums[j], _ = exact[w][j].Float64()
		}
	}
	if got := a.cols.Stats().Entries; !reflect.DeepEqual(got, wantCols) {
		t.Errorf("column squares differ from the direct sums")
	}
	if len(wantCols) != 2*7+1 {
		t.Errorf("%d weights seen, want 15", len(wantCols))
	}
	grams := a.gram.Grams()
	if len(grams) != len(gramOrder) || len(grams) != 2*4+1 {
		t.Fatalf("%d Grams, want %d (4 inputs per block and the output's)", len(grams), 2*4+1)
	}
	for i, k := range gramOrder {
		if !reflect.DeepEqual(grams[i], wantGram[k]) {
			t.Errorf("Gram %d (%s of block %d, %v) differs from the direct XᵀX", i, k.site, k.layer, wantGram[k].Weights)
		}
	}
	if w := grams[0].Weights; !reflect.DeepEqual(w, []string{"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"}) {
		t.Errorf("first Gram feeds %v", w)
	}
	// The diagonal of XᵀX is the column squares (summed in float64 there, exactly here).
	for _, g := range grams {
		for _, w := range g.Weights {
			sums := a.cols.Stats().Entries[w].Sums
			for j := range g.N {
				if d := g.Sum[j*g.N+j]; math.Abs(d-sums[j]) > 1e-13*sums[j] {
					t.Fatalf("%s: XᵀX[%d,%d] = %v, column squares %v", w, j, j, g.Sum[j*g.N+j], sums[j])
				}
			}
		}
	}
	got := a.blocks.Stats()
	for l := range wantBlocks {
		if got[l].Count != 36 || math.Abs(got[l].Sum-wantBlocks[l].Sum) > 1e-12*wantBlocks[l].Sum || !(got[l].Mean() > 0) {
			t.Errorf("block %d: %+v, want %+v over 36 tokens", l, got[l], wantBlocks[l])
		}
	}
	if !reflect.DeepEqual(a.capt.Batches, wantCapture) || a.capt.Cols != 64 || len(wantCapture) != 9 {
		t.Errorf("captured %d batches of %d columns, want the 9 block-1 inputs", len(a.capt.Batches), a.capt.Cols)
	}
}

// TestDeterministic checks that the statistics are the same bits for any thread count of the
// runtime and of the Gram accumulation.
func TestDeterministic(t *testing.T) {
	path := tinyModel(t)
	seqs := sequences(2, 20)
	one := collect(t, path, seqs, 1, nil)
	for _, threads := range []int{2, 5} {
		many := collect(t, path, seqs, threads, nil)
		if !reflect.DeepEqual(one.cols.Stats(), many.cols.Stats()) || !reflect.DeepEqual(one.gram.Grams(), many.gram.Grams()) ||
			!reflect.DeepEqual(one.blocks.Stats(), many.blocks.Stats()) {
			t.Errorf("%d threads give different statistics than 1", threads)
		}
	}
}

// TestMergeHalves checks that the statistics of two halves of the calibration set, merged,
// equal one run over all of it: counts exactly, sums to rounding (the additions are grouped
// differently).
func TestMergeHalves(t *testing.T) {
	path := tinyModel(t)
	seqs := sequences(4, 10)
	all := collect(t, path, seqs, 2, nil)
	a, b := collect(t, path, seqs[:2], 2, nil), collect(t, path, seqs[2:], 2, nil)

	cols := a.cols.Stats()
	if err := cols.Merge(b.cols.Stats()); err != nil {
		t.Fatal(err)
	}
	want := all.cols.Stats()
	if !reflect.DeepEqual(cols.Names(), want.Names()) {
		t.Fatalf("merged weights %v, want %v", cols.Names(), want.Names())
	}
	for n, e := range want.Entries {
		got := cols.Entries[n]
		if !reflect.DeepEqual(got.Counts, e.Counts) || !near(got.Sums, e.Sums) {
			t.Errorf("%s: merged column squares differ from one run", n)
		}
	}
	ga, gb, gw := a.gram.Grams(), b.gram.Grams(), all.gram.Grams()
	for i := range gw {
		if err := ga[i].Merge(gb[i]); err != nil {
			t.Fatal(err)
		}
		if ga[i].Count != gw[i].Count || !near(ga[i].Sum, gw[i].Sum) {
			t.Errorf("%v: merged XᵀX differs from one run", gw[i].Weights)
		}
	}
	ba, bb, bw := a.blocks.Stats(), b.blocks.Stats(), all.blocks.Stats()
	for l := range bw {
		ba[l].Merge(bb[l])
		if ba[l].Count != bw[l].Count || math.Abs(ba[l].Sum-bw[l].Sum) > 1e-12*bw[l].Sum {
			t.Errorf("block %d: merged %+v, one run %+v", l, ba[l], bw[l])
		}
	}
	if err := ga[0].Merge(gw[len(gw)-2]); !errors.Is(err, quantize.ErrInvalidInput) {
		t.Errorf("Grams of 64 and 96 columns merged: %v", err)
	}
}

// near reports whether a and b agree to 1e-12 relative.
func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12*math.Max(math.Abs(a[i]), math.Abs(b[i])) {
			return false
		}
	}
	return true
}

// TestLayers checks that a collector restricted to one block keeps only its statistics.
func TestLayers(t *testing.T) {
	a := collect(t, tinyModel(t), sequences(1, 8), 2, []int{1})
	for _, n := range a.cols.Stats().Names() {
		if n[:6] != "blk.1." {
			t.Errorf("collected %s outside block 1", n)
		}
	}
	if len(a.cols.Names()) != 7 || len(a.gram.Grams()) != 4 {
		t.Errorf("block 1: %d weights and %d Grams, want 7 and 4", len(a.cols.Names()), len(a.gram.Grams()))
	}
	if s := a.blocks.Stats(); len(s) != 2 || s[0].Count != 0 || s[1].Count != 8 {
		t.Errorf("block distances %+v", s)
	}
}

// TestGramWide checks XᵀX against the direct sum for inputs wider than one column block of the
// accumulation (gramCols) and an odd number of rows, fed in two calls, for several thread counts.
func TestGramWide(t *testing.T) {
	for _, tt := range []struct{ n, threads int }{{gramCols + 45, 1}, {gramCols + 45, 4}, {2*gramCols + 3, 3}, {5, 8}} {
		const rows = 7
		x := make([]float32, rows*tt.n)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)*0.37)) * float32(1+i%5)
		}
		g := &Gram{Threads: tt.threads}
		w := []string{"blk.0.ffn_down.weight"}
		g.Add(runtime.Activations{Site: runtime.SiteFFNDown, Weights: w, X: x[:3*tt.n], Rows: 3, Cols: tt.n})
		g.Add(runtime.Activations{Site: runtime.SiteFFNDown, Weights: w, X: x[3*tt.n:], Rows: rows - 3, Cols: tt.n})
		want := make([]float64, tt.n*tt.n)
		for r := range rows {
			for i := range tt.n {
				for j := range tt.n {
					want[i*tt.n+j] += float64(x[r*tt.n+i]) * float64(x[r*tt.n+j])
				}
			}
		}
		got := g.Grams()
		if len(got) != 1 || got[0].Count != rows || !slices.Equal(got[0].Sum, want) {
			t.Errorf("n=%d threads=%d: XᵀX differs from the direct sum", tt.n, tt.threads)
		}
	}
}
