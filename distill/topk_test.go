package distill

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/mcompress/mcompress/distill/autograd"
)

func randRow(rng *rand.Rand, v int, scale float64) []float32 {
	z := make([]float32, v)
	for i := range z {
		z[i] = float32(scale * rng.NormFloat64())
	}
	return z
}

// TestSelectRow compares the heap selection with a full sort, and the tail with 1 − Σ top-k.
func TestSelectRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct{ v, k int }{{10, 1}, {10, 3}, {10, 10}, {300, 32}, {2048, 128}} {
		z := randRow(rng, c.v, 3)
		z[c.v/2] = z[0] // a tie
		var s topKSelector
		tail := s.selectRow(z, c.k)
		order := make([]int32, c.v)
		for i := range order {
			order[i] = int32(i)
		}
		sort.SliceStable(order, func(a, b int) bool { return z[order[a]] > z[order[b]] })
		want := slices.Clone(order[:c.k])
		slices.Sort(want)
		if !slices.Equal(s.ids, want) {
			t.Fatalf("v %d k %d: ids %v, want %v", c.v, c.k, s.ids, want)
		}
		mass := 0.0
		for _, lp := range s.lps {
			mass += math.Exp(lp)
		}
		if c.k == c.v {
			if !math.IsInf(tail, -1) {
				t.Errorf("k = v: tail %g, want -Inf", tail)
			}
			continue
		}
		if d := math.Abs(math.Exp(tail) - (1 - mass)); d > 1e-12 {
			t.Errorf("v %d k %d: tail mass %g, 1 − Σ top-k %g", c.v, c.k, math.Exp(tail), 1-mass)
		}
	}
}

// TestRowCoding checks that rows decode to what was coded, within the quantization steps, and
// that entries below the range join the tail.
func TestRowCoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, c := range []struct {
		v, k, bits int
		step       float64
		scale      float64
	}{{2048, 32, 8, 1.0 / 16, 3}, {2048, 128, 8, 1.0 / 16, 3}, {100, 100, 8, 1.0 / 16, 2}, {50000, 64, 6, 0.25, 4}, {2048, 32, 4, 0.5, 10}, {70000, 16, 16, 1.0 / 4096, 1}} {
		codec := topKCodec{k: c.k, bits: c.bits, step: c.step}
		if err := codec.validate(c.v); err != nil {
			t.Fatal(err)
		}
		var buf []byte
		var rows [][]int32
		var lpsAll [][]float64
		var tails []float64
		var s topKSelector
		var keep []int32
		for range 20 {
			z := randRow(rng, c.v, c.scale)
			tail := s.selectRow(z, c.k)
			rows = append(rows, slices.Clone(s.ids))
			lpsAll = append(lpsAll, slices.Clone(s.lps))
			tails = append(tails, tail)
			buf, keep = codec.encodeRow(buf, s.ids, s.lps, tail, keep)
		}
		var tk TopKBatch
		tk.Reset()
		rest := buf
		for i := range rows {
			n, err := codec.decodeRow(rest, c.v, &tk)
			if err != nil {
				t.Fatal(err)
			}
			tk.closeRow()
			rest = rest[n:]
			ids := tk.IDs[tk.Off[i]:tk.Off[i+1]]
			lps := tk.LogP[tk.Off[i]:tk.Off[i+1]]
			// Every decoded id is one of the row's, in order; the missing ones were out of range.
			lpmax := slices.Max(lpsAll[i])
			tailMass := math.Exp(tails[i])
			j := 0
			for q, id := range rows[i] {
				lp := lpsAll[i][q]
				if j < len(ids) && ids[j] == id {
					tol := c.step/2 + 1.0/maxScale
					if lp == lpmax {
						tol = 1.0 / maxScale
					}
					if d := math.Abs(float64(lps[j]) - lp); d > tol+1e-6 {
						t.Fatalf("v %d k %d row %d id %d: log-prob %g decoded as %g", c.v, c.k, i, id, lp, lps[j])
					}
					j++
					continue
				}
				if lpmax-lp < float64(codec.maxQ())*c.step-c.step {
					t.Fatalf("row %d: id %d (%.3g nats below the top) was dropped", i, id, lpmax-lp)
				}
				tailMass += math.Exp(lp)
			}
			if j != len(ids) {
				t.Fatalf("row %d: decoded ids %v are not a subsequence of %v", i, ids, rows[i])
			}
			got := float64(tk.Tail[i])
			if tailMass == 0 {
				if !math.IsInf(got, -1) {
					t.Fatalf("row %d: tail %g, want none", i, got)
				}
			} else if want := math.Log(tailMass); want > -64 && math.Abs(got-want) > 1.0/tailScale {
				t.Fatalf("row %d: tail %g, want %g", i, got, want)
			}
		}
		if len(rest) != 0 {
			t.Fatalf("%d bytes left", len(rest))
		}
		t.Logf("v %d k %d bits %d: %.1f bytes per row", c.v, c.k, c.bits, float64(len(buf))/float64(len(rows)))
	}
}

// TestTopKFullVocabMatchesKLDiv: with k = vocabulary the top-k loss is the full KL, so its value
// and gradient equal autograd's KLDiv, forward and reverse, at two temperatures.
func TestTopKFullVocabMatchesKLDiv(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const rows, v = 6, 40
	for _, o := range []LossOptions{{Alpha: 1, Temperature: 1}, {Alpha: 0.5, Temperature: 2}, {Alpha: 1, Temperature: 2, Divergence: ReverseKL}, {Alpha: 0.3, Temperature: 1.5, Divergence: ReverseKL}} {
		zs := randRow(rng, rows*v, 2)
		zt := randRow(rng, rows*v, 2)
		targets := make([]int32, rows)
		for i := range targets {
			targets[i] = int32(rng.IntN(v))
		}
		targets[rows-1] = ignoreIndex
		skip := make([]bool, rows)
		skip[rows-1] = true
		var tk TopKBatch
		tk.Reset()
		var s topKSelector
		for r := range rows {
			tail := s.selectRow(zt[r*v:(r+1)*v], v)
			tk.IDs = append(tk.IDs, s.ids...)
			for _, lp := range s.lps {
				tk.LogP = append(tk.LogP, float32(lp))
			}
			tk.Tail = append(tk.Tail, float32(tail))
			tk.closeRow()
		}
		run := func(full bool) ([]float32, LossParts) {
			st, _ := autograd.NewParam("z", slices.Clone(zs), rows, v)
			tp := &Tape{}
			var loss *Tensor
			var parts LossParts
			var err error
			if full {
				tt, _ := autograd.NewTensor(slices.Clone(zt), rows, v)
				loss, parts, err = lossFull(tp, st, tt, targets, skip, o)
			} else {
				loss, parts, err = lossTopK(tp, st, &tk, targets, skip, o, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tp.Backward(loss); err != nil {
				t.Fatal(err)
			}
			return st.Grad, parts
		}
		gFull, pFull := run(true)
		gTop, pTop := run(false)
		if math.Abs(pFull.Loss-pTop.Loss) > 1e-5*math.Abs(pFull.Loss) || math.Abs(pFull.KL-pTop.KL) > 1e-5 {
			t.Errorf("%+v: loss %v (KL %v) vs full %v (KL %v)", o, pTop.Loss, pTop.KL, pFull.Loss, pFull.KL)
		}
		if e := relErr(gTop, gFull); e > 1e-5 {
			t.Errorf("%+v: gradient relative error %.3g", o, e)
		}
	}
}

// TestTopKGradFiniteDifference checks the top-k row gradient (tail and renormalised, forward
// and reverse, two temperatures) against central differences of the row's KL.
func TestTopKGradFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const v, k = 12, 4
	for _, mode := range []TopKMode{TopKTail, TopKRenorm} {
		for _, div := range []Divergence{ForwardKL, ReverseKL} {
			for _, temp := range []float64{1, 2.5} {
				o := LossOptions{Alpha: 1, Temperature: temp, Divergence: div, TopKMode: mode}
				z := randRow(rng, v, 1)
				ids := []int32{1, 4, 5, 9}
				lp := []float32{-0.5, -1.5, -2.0, -3.0}
				tail := math.Log(1 - (math.Exp(-0.5) + math.Exp(-1.5) + math.Exp(-2) + math.Exp(-3)))
				var s topKScratch
				g := make([]float32, v)
				s.row(z, ids, lp, tail, o, g)
				const h = 1.0 / 128
				dummy := make([]float32, v)
				for i := range z {
					zp, zm := slices.Clone(z), slices.Clone(z)
					zp[i] += h
					zm[i] -= h
					fd := (s.row(zp, ids, lp, tail, o, dummy) - s.row(zm, ids, lp, tail, o, dummy)) / (2 * h)
					if math.Abs(fd-float64(g[i])) > 2e-4*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s %s T=%g: d/dz[%d] = %.6g, finite difference %.6g", mode, div, temp, i, g[i], fd)
					}
				}
				_ = k
			}
		}
	}
}

// TestCacheBuildAndRead builds a small cache from the fixture teacher and checks the tokens and
// rows against a direct teacher run.
func TestCacheBuildAndRead(t *testing.T) {
	dir := fixtureDir(t)
	out := filepath.Join(t.TempDir(), "valid.topk")
	teacherPath := filepath.Join(dir, "gguf", "teacher-Q4_K_M.gguf") // a quantized teacher
	data := DataOptions{Path: headOfFile(t, filepath.Join(dir, "valid.txt"), 12000), ValidFraction: 0.1}
	info, err := BuildCache(context.Background(), CacheOptions{Teacher: teacherPath, Data: data, SeqLen: 64, K: 16, Output: out, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d train + %d valid sequences, %.1f bytes per position", info.Splits["train"].Sequences, info.Splits["valid"].Sequences, info.BytesPerToken())
	c, err := OpenCache(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	teacher, err := OpenTeacher(teacherPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	p, err := packData(context.Background(), teacher.Metadata(), data, 64, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sequences("train") != len(p.train) || c.Sequences("valid") != len(p.valid) {
		t.Fatalf("cache has %d/%d sequences, packing gives %d/%d", c.Sequences("train"), c.Sequences("valid"), len(p.train), len(p.valid))
	}
	codec := c.Info.codec()
	for _, i := range []int{0, 7, len(p.train) - 1} {
		toks, err := c.Tokens("train", i, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(toks, p.train[i]) {
			t.Fatalf("sequence %d: tokens differ", i)
		}
		var tk TopKBatch
		tk.Reset()
		if err := c.TopK("train", i, &tk); err != nil {
			t.Fatal(err)
		}
		if tk.Rows() != 64 || tk.Off[64] != tk.Off[63] {
			t.Fatalf("sequence %d: %d rows, last not empty", i, tk.Rows())
		}
		logits, err := teacher.Logits(toks, nil)
		if err != nil {
			t.Fatal(err)
		}
		var s topKSelector
		var keep []int32
		for r := range 63 {
			tail := s.selectRow(logits[r*2048:(r+1)*2048], 16)
			var want TopKBatch
			want.Reset()
			b, _ := codec.encodeRow(nil, s.ids, s.lps, tail, keep)
			if _, err := codec.decodeRow(b, 2048, &want); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(want.IDs, tk.IDs[tk.Off[r]:tk.Off[r+1]]) || !slices.Equal(want.LogP, tk.LogP[tk.Off[r]:tk.Off[r+1]]) || want.Tail[0] != tk.Tail[r] {
				t.Fatalf("sequence %d position %d: cached row differs from a fresh teacher run", i, r)
			}
		}
	}
}

// TestParseCacheRejects feeds damaged cache files to the parser.
func TestParseCacheRejects(t *testing.T) {
	dir := fixtureDir(t)
	out := filepath.Join(t.TempDir(), "c.topk")
	if _, err := BuildCache(context.Background(), CacheOptions{Teacher: filepath.Join(dir, "gguf", "teacher-Q8_0.gguf"),
		Data: DataOptions{Path: headOfFile(t, filepath.Join(dir, "valid.txt"), 3000)}, SeqLen: 128, K: 4, Output: out}); err != nil {
		t.Fatal(err)
	}
	good := readFile(t, out)
	if _, err := parseCache(good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func([]byte) []byte{
		"empty":        func(b []byte) []byte { return nil },
		"truncated":    func(b []byte) []byte { return b[:len(b)/2] },
		"bad magic":    func(b []byte) []byte { b[0] = 'X'; return b },
		"footer size":  func(b []byte) []byte { b[len(b)-9] = 0xFF; return b },
		"footer json":  func(b []byte) []byte { b[len(b)-14] = '{'; return b },
		"only magic":   func(b []byte) []byte { return []byte(cacheMagic + cacheMagic) },
		"short footer": func(b []byte) []byte { return append([]byte(cacheMagic), b[len(b)-12:]...) },
	} {
		b := mut(slices.Clone(good))
		if _, err := parseCache(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
