package prune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/runtime"
)

func TestParseStructuredSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want StructuredSpec
		err  string
	}{
		{"heads=4,ffn=384,hidden=128,layers=2", StructuredSpec{Heads: 4, FFN: 384, Hidden: 128, Layers: 2}, ""},
		{" layers = 3 ", StructuredSpec{Layers: 3}, ""},
		{"heads=2,head-mode=groups", StructuredSpec{Heads: 2, HeadMode: HeadsWholeGroups}, ""},
		{"ffn=10,head-mode=per-group", StructuredSpec{FFN: 10, HeadMode: HeadsPerGroup}, ""},
		{"", StructuredSpec{}, "empty"},
		{"heads", StructuredSpec{}, "not key=value"},
		{"heads=", StructuredSpec{}, "not key=value"},
		{"heads=0", StructuredSpec{}, "positive"},
		{"heads=-2", StructuredSpec{}, "positive"},
		{"heads=2.5", StructuredSpec{}, "positive"},
		{"heads=2,heads=3", StructuredSpec{}, "twice"},
		{"width=2", StructuredSpec{}, "unknown key"},
		{"heads=2,head-mode=some", StructuredSpec{}, "head mode"},
	} {
		got, err := ParseStructuredSpec(tc.in)
		if tc.err != "" {
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseStructuredSpec(%q): error %v, want ErrBadInput with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseStructuredSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if back, err := ParseStructuredSpec(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q through %q: %+v, %v", tc.in, got.String(), back, err)
		}
	}
}

// tinyConfig is a small model of arch with 8 query heads in 4 KV groups.
func tinyConfig(arch string) convert.Config {
	c := convert.Config{Arch: arch, HFModelType: arch, VocabSize: 64, Hidden: 32, Layers: 3, Heads: 8, KVHeads: 4,
		HeadDim: 4, FFN: 48, ContextLength: 64, RMSNormEps: 1e-6, RopeTheta: 10000, RopeDim: 4, BOS: -1, EOS: -1}
	switch arch {
	case "qwen2":
		c.AttentionBias, c.RopeNeoX = true, true
	case "qwen3":
		c.QKNorm, c.RopeNeoX = true, true
	}
	return c
}

// randomWeights returns random float32 weights for cfg, named and shaped for
// runtime.FromTensors; norm weights are drawn around 1 so that every hidden channel differs.
func randomWeights(cfg convert.Config, seed uint64) map[string]runtime.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	w := map[string]runtime.Tensor{}
	mat := func(name string, rows, cols int) {
		d := make([]float32, rows*cols)
		for i := range d {
			d[i] = float32(rng.NormFloat64() * 0.3)
		}
		w[name] = runtime.Tensor{Dims: []int{cols, rows}, Data: d}
	}
	vec := func(name string, n int, base float64) {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(base + 0.5*rng.Float64())
		}
		w[name] = runtime.Tensor{Dims: []int{n}, Data: d}
	}
	h, q, kv, f := cfg.Hidden, cfg.QDim(), cfg.KVDim(), cfg.FFN
	mat("token_embd.weight", cfg.VocabSize, h)
	vec("output_norm.weight", h, 0.75)
	if !cfg.TiedEmbeddings {
		mat("output.weight", cfg.VocabSize, h)
	}
	for l := range cfg.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		vec(p+"attn_norm.weight", h, 0.75)
		mat(p+"attn_q.weight", q, h)
		mat(p+"attn_k.weight", kv, h)
		mat(p+"attn_v.weight", kv, h)
		mat(p+"attn_output.weight", h, q)
		if cfg.AttentionBias {
			vec(p+"attn_q.bias", q, -0.25)
			vec(p+"attn_k.bias", kv, -0.25)
			vec(p+"attn_v.bias", kv, -0.25)
		}
		if cfg.QKNorm {
			vec(p+"attn_q_norm.weight", cfg.HeadDim, 0.75)
			vec(p+"attn_k_norm.weight", cfg.HeadDim, 0.75)
		}
		vec(p+"ffn_norm.weight", h, 0.75)
		mat(p+"ffn_gate.weight", f, h)
		mat(p+"ffn_up.weight", f, h)
		mat(p+"ffn_down.weight", h, f)
	}
	return w
}

// randomImportance returns scores in [1, 2) of the shape of cfg.
func randomImportance(cfg convert.Config, seed uint64) *Importance {
	rng := rand.New(rand.NewPCG(seed, 2))
	vec := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = 1 + rng.Float64()
		}
		return v
	}
	imp := &Importance{Hidden: vec(cfg.Hidden), Layers: vec(cfg.Layers), Tokens: 1}
	for range cfg.Layers {
		imp.Heads = append(imp.Heads, vec(cfg.Heads))
		imp.FFN = append(imp.FFN, vec(cfg.FFN))
	}
	return imp
}

var testTokens = []int32{1, 7, 33, 2, 60, 18, 18, 5, 44, 9, 0, 63}

// logits runs testTokens through the model and returns every position's logits.
func logits(t *testing.T, cfg convert.Config, w map[string]runtime.Tensor) []float32 {
	t.Helper()
	m, err := runtime.FromTensors(cfg, w, nil, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(len(testTokens))
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Forward(testTokens, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(testTokens)*cfg.VocabSize {
		t.Fatalf("%d logits, want %d", len(out), len(testTokens)*cfg.VocabSize)
	}
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("logit %d is %v", i, v)
		}
	}
	return out
}

// maxDiff returns the largest absolute difference of a and b relative to b's range.
func maxDiff(a, b []float32) float64 {
	lo, hi, worst := math.Inf(1), math.Inf(-1), 0.0
	for i := range b {
		lo, hi = math.Min(lo, float64(b[i])), math.Max(hi, float64(b[i]))
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst / (hi - lo)
}

// zeroCols sets columns cols of every row of the ggml-order matrix t to 0.
func zeroCols(t runtime.Tensor, cols ...int) {
	for r := range t.Dims[1] {
		for _, c := range cols {
			t.Data[r*t.Dims[0]+c] = 0
		}
	}
}

// zeroRows sets rows rows of the ggml-order matrix t to 0.
func zeroRows(t runtime.Tensor, rows ...int) {
	for _, r := range rows {
		clear(t.Data[r*t.Dims[0] : (r+1)*t.Dims[0]])
	}
}

// headCols returns the columns (or rows) of the listed heads of width hd.
func headCols(hd int, heads ...int) []int {
	var out []int
	for _, h := range heads {
		for i := range hd {
			out = append(out, h*hd+i)
		}
	}
	return out
}

// TestApplyStructuredRemovesOnlyDeadStructures removes structures whose contribution was zeroed
// beforehand (a head with zero attn_output columns, an MLP channel with a zero ffn_down column,
// a block with zero attn_output and ffn_down, a hidden channel that no block writes and the
// embedding leaves at zero) and ranked least important: the pruned model must compute the same
// logits, which holds only if every tensor was sliced along the right rows and columns.
func TestApplyStructuredRemovesOnlyDeadStructures(t *testing.T) {
	type kill func(cfg convert.Config, w map[string]runtime.Tensor, imp *Importance)
	deadHeads := func(heads ...int) kill {
		return func(cfg convert.Config, w map[string]runtime.Tensor, imp *Importance) {
			for l := range cfg.Layers {
				zeroCols(w[fmt.Sprintf("blk.%d.attn_output.weight", l)], headCols(cfg.HeadDim, heads...)...)
				for _, h := range heads {
					imp.Heads[l][h] = 0
				}
			}
		}
	}
	deadFFN := func(ch ...int) kill {
		return func(cfg convert.Config, w map[string]runtime.Tensor, imp *Importance) {
			for l := range cfg.Layers {
				zeroCols(w[fmt.Sprintf("blk.%d.ffn_down.weight", l)], ch...)
				for _, c := range ch {
					imp.FFN[l][c] = 0
				}
			}
		}
	}
	deadLayer := func(l int) kill {
		return func(cfg convert.Config, w map[string]runtime.Tensor, imp *Importance) {
			clear(w[fmt.Sprintf("blk.%d.attn_output.weight", l)].Data)
			clear(w[fmt.Sprintf("blk.%d.ffn_down.weight", l)].Data)
			imp.Layers[l] = 0
		}
	}
	deadHidden := func(ch ...int) kill {
		return func(cfg convert.Config, w map[string]runtime.Tensor, imp *Importance) {
			zeroCols(w["token_embd.weight"], ch...)
			for l := range cfg.Layers {
				zeroRows(w[fmt.Sprintf("blk.%d.attn_output.weight", l)], ch...)
				zeroRows(w[fmt.Sprintf("blk.%d.ffn_down.weight", l)], ch...)
			}
			for _, c := range ch {
				imp.Hidden[c] = 0
			}
		}
	}
	for _, tc := range []struct {
		name  string
		arch  string
		spec  StructuredSpec
		kills []kill
		exact bool // bit-identical (nothing removed)
		check func(c convert.Config) bool
	}{
		{"nothing", "llama", StructuredSpec{}, nil, true, func(c convert.Config) bool { return c == tinyConfig("llama") }},
		{"same sizes", "llama", StructuredSpec{Heads: 8, FFN: 48, Hidden: 32, Layers: 3}, nil, true, func(c convert.Config) bool { return c == tinyConfig("llama") }},
		{"one head per group", "llama", StructuredSpec{Heads: 4}, []kill{deadHeads(1, 2, 5, 7)}, false,
			func(c convert.Config) bool { return c.Heads == 4 && c.KVHeads == 4 && c.HeadDim == 4 }},
		{"one head per group, qwen2 biases", "qwen2", StructuredSpec{Heads: 4}, []kill{deadHeads(0, 3, 4, 6)}, false,
			func(c convert.Config) bool { return c.Heads == 4 && c.KVHeads == 4 }},
		{"one head per group, qwen3 q/k norms", "qwen3", StructuredSpec{Heads: 4}, []kill{deadHeads(0, 2, 5, 6)}, false,
			func(c convert.Config) bool { return c.Heads == 4 && c.KVHeads == 4 }},
		{"whole group", "llama", StructuredSpec{Heads: 6, HeadMode: HeadsWholeGroups}, []kill{deadHeads(2, 3)}, false,
			func(c convert.Config) bool { return c.Heads == 6 && c.KVHeads == 3 && c.HeadDim == 4 }},
		{"two groups, qwen2", "qwen2", StructuredSpec{Heads: 4, HeadMode: HeadsWholeGroups}, []kill{deadHeads(0, 1, 6, 7)}, false,
			func(c convert.Config) bool { return c.Heads == 4 && c.KVHeads == 2 }},
		{"FFN channels", "llama", StructuredSpec{FFN: 45}, []kill{deadFFN(0, 17, 47)}, false, func(c convert.Config) bool { return c.FFN == 45 }},
		{"middle layer", "llama", StructuredSpec{Layers: 2}, []kill{deadLayer(1)}, false, func(c convert.Config) bool { return c.Layers == 2 }},
		{"first layer, qwen3", "qwen3", StructuredSpec{Layers: 2}, []kill{deadLayer(0)}, false, func(c convert.Config) bool { return c.Layers == 2 }},
		{"hidden channels", "llama", StructuredSpec{Hidden: 29}, []kill{deadHidden(3, 4, 30)}, false,
			func(c convert.Config) bool { return c.Hidden == 29 && c.HeadDim == 4 && c.Heads == 8 }},
		{"hidden channels, qwen2", "qwen2", StructuredSpec{Hidden: 30}, []kill{deadHidden(0, 31)}, false, func(c convert.Config) bool { return c.Hidden == 30 }},
		{"everything", "qwen3", StructuredSpec{Heads: 6, FFN: 46, Hidden: 30, Layers: 2, HeadMode: HeadsWholeGroups},
			[]kill{deadHeads(4, 5), deadFFN(9, 10), deadHidden(7, 8), deadLayer(2)}, false,
			func(c convert.Config) bool {
				return c.Heads == 6 && c.KVHeads == 3 && c.FFN == 46 && c.Hidden == 30 && c.Layers == 2 && c.HeadDim == 4
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(tc.arch)
			w := randomWeights(cfg, 1)
			imp := randomImportance(cfg, 2)
			for _, k := range tc.kills {
				k(cfg, w, imp)
			}
			want := logits(t, cfg, w)
			nc, nw, rep, err := ApplyStructured(cfg, w, imp, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(nc) {
				t.Errorf("new config %+v", nc)
			}
			got := logits(t, nc, nw)
			if tc.exact {
				if !slices.Equal(got, want) {
					t.Errorf("logits changed by %g", maxDiff(got, want))
				}
			} else if d := maxDiff(got, want); d > 1e-5 {
				t.Errorf("logits differ by %g of their range", d)
			}
			var n int64
			for _, tw := range nw {
				n += int64(len(tw.Data))
			}
			if n != rep.ParamsAfter || rep.ParamsAfter != nc.NumParams() || rep.ParamsBefore != cfg.NumParams() {
				t.Errorf("parameters: %d in the tensors, report %d → %d, configs %d → %d", n, rep.ParamsBefore, rep.ParamsAfter, cfg.NumParams(), nc.NumParams())
			}
			if len(rep.Tensors) != len(nw) {
				t.Errorf("report lists %d tensors, output has %d", len(rep.Tensors), len(nw))
			}
			for _, c := range rep.Tensors {
				if !slices.Equal(nw[c.Name].Dims, c.After) {
					t.Errorf("%s: report says %v, tensor has %v", c.Name, c.After, nw[c.Name].Dims)
				}
			}
		})
	}
}

// TestApplyStructuredDoesNotModifyInput checks that the input weights survive a prune that
// rescales norms and slices everything.
func TestApplyStructuredDoesNotModifyInput(t *testing.T) {
	cfg := tinyConfig("llama")
	w := randomWeights(cfg, 3)
	keep := map[string][]float32{}
	for n, tw := range w {
		keep[n] = slices.Clone(tw.Data)
	}
	if _, _, _, err := ApplyStructured(cfg, w, randomImportance(cfg, 4), StructuredSpec{Heads: 4, FFN: 20, Hidden: 16, Layers: 2}); err != nil {
		t.Fatal(err)
	}
	for n, d := range keep {
		if !slices.Equal(w[n].Data, d) {
			t.Errorf("%s changed", n)
		}
	}
}

// TestApplyStructuredHalf halves the hidden size, which halves every matrix and norm of a
// llama model, and prunes a model to about half its size in all dimensions at once.
func TestApplyStructuredHalf(t *testing.T) {
	cfg := tinyConfig("llama")
	w := randomWeights(cfg, 5)
	imp := randomImportance(cfg, 6)
	nc, nw, rep, err := ApplyStructured(cfg, w, imp, StructuredSpec{Hidden: cfg.Hidden / 2})
	if err != nil {
		t.Fatal(err)
	}
	if 2*rep.ParamsAfter != rep.ParamsBefore {
		t.Errorf("half the hidden size: %d → %d parameters", rep.ParamsBefore, rep.ParamsAfter)
	}
	if nc.HeadDim != cfg.HeadDim || nc.Heads*nc.HeadDim == nc.Hidden {
		t.Errorf("head dimension %d with %d heads and hidden %d", nc.HeadDim, nc.Heads, nc.Hidden)
	}
	logits(t, nc, nw)

	nc, nw, rep, err = ApplyStructured(cfg, w, imp, StructuredSpec{Heads: 4, FFN: 32, Hidden: 24, HeadMode: HeadsWholeGroups})
	if err != nil {
		t.Fatal(err)
	}
	if r := float64(rep.ParamsAfter) / float64(rep.ParamsBefore); r < 0.4 || r > 0.6 {
		t.Errorf("%d → %d parameters (%.2f)", rep.ParamsBefore, rep.ParamsAfter, r)
	}
	logits(t, nc, nw)
}

func TestApplyStructuredBadInput(t *testing.T) {
	cfg := tinyConfig("llama")
	for _, tc := range []struct {
		name   string
		spec   StructuredSpec
		modify func(w map[string]runtime.Tensor, imp *Importance)
		err    string
	}{
		{"more heads", StructuredSpec{Heads: 9}, nil, "cannot keep 9 attention heads"},
		{"uneven groups", StructuredSpec{Heads: 6}, nil, "same number in each of 4 KV groups"},
		{"partial group", StructuredSpec{Heads: 3, HeadMode: HeadsWholeGroups}, nil, "whole number of KV groups"},
		{"more FFN", StructuredSpec{FFN: 49}, nil, "cannot keep 49 FFN"},
		{"more hidden", StructuredSpec{Hidden: 33}, nil, "cannot keep 33 hidden"},
		{"more layers", StructuredSpec{Layers: 4}, nil, "cannot keep 4 layers"},
		{"bad head mode", StructuredSpec{Heads: 4, HeadMode: "some"}, nil, "head mode"},
		{"importance of another model", StructuredSpec{FFN: 8}, func(w map[string]runtime.Tensor, imp *Importance) { imp.FFN[1] = imp.FFN[1][:4] }, "do not match"},
		{"no importance", StructuredSpec{FFN: 8}, func(w map[string]runtime.Tensor, imp *Importance) { *imp = Importance{} }, "do not match"},
		{"unknown tensor", StructuredSpec{FFN: 8}, func(w map[string]runtime.Tensor, imp *Importance) {
			w["blk.0.ffn_extra.weight"] = runtime.Tensor{Dims: []int{1}, Data: []float32{1}}
		}, `"blk.0.ffn_extra.weight"`},
		{"block out of range", StructuredSpec{FFN: 8}, func(w map[string]runtime.Tensor, imp *Importance) {
			w["blk.3.ffn_up.weight"] = w["blk.0.ffn_up.weight"]
		}, `"blk.3.ffn_up.weight"`},
		{"wrong shape", StructuredSpec{FFN: 8}, func(w map[string]runtime.Tensor, imp *Importance) {
			w["blk.1.ffn_up.weight"] = w["blk.1.ffn_down.weight"]
		}, `"blk.1.ffn_up.weight" has dims [48 32]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := randomWeights(cfg, 7)
			imp := randomImportance(cfg, 8)
			if tc.modify != nil {
				tc.modify(w, imp)
			}
			_, out, rep, err := ApplyStructured(cfg, w, imp, tc.spec)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want ErrBadInput with %q", err, tc.err)
			}
			if out != nil || rep != nil {
				t.Error("output returned with an error")
			}
		})
	}
}

// TestMeasureImportance checks each score on a model where one structure of each kind is
// silenced: a KV head whose values are zero (its query heads output nothing), an MLP channel
// whose gate is zero, a hidden channel whose norm weights are zero, a block that adds nothing.
// Their scores must be zero (the block's near zero), the others positive, the result the same
// at any thread count, and the prune that follows must pick exactly those structures.
func TestMeasureImportance(t *testing.T) {
	cfg := tinyConfig("llama")
	cfg.Layers = 4
	w := randomWeights(cfg, 9)
	zeroRows(w["blk.0.attn_v.weight"], headCols(cfg.HeadDim, 1)...) // query heads 2 and 3
	zeroRows(w["blk.1.ffn_gate.weight"], 5)
	for l := range cfg.Layers {
		w[fmt.Sprintf("blk.%d.attn_norm.weight", l)].Data[11] = 0
		w[fmt.Sprintf("blk.%d.ffn_norm.weight", l)].Data[11] = 0
	}
	clear(w["blk.2.attn_output.weight"].Data)
	clear(w["blk.2.ffn_down.weight"].Data)
	seqs := [][]int32{testTokens, {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, {63, 62}}

	var imps []*Importance
	for _, threads := range []int{1, 2} {
		var observed int
		m, err := runtime.FromTensors(cfg, w, nil, runtime.Options{Threads: threads, ActivationObserver: func(runtime.Activations) { observed++ }})
		if err != nil {
			t.Fatal(err)
		}
		imp, err := MeasureImportance(context.Background(), m, cfg, seqs)
		if err != nil {
			t.Fatal(err)
		}
		if observed != 0 {
			t.Errorf("the model's own observer saw %d observations during the measurement", observed)
		}
		s, _ := m.NewSession(4)
		if _, err := s.Forward([]int32{1, 2}, 0, false); err != nil || observed == 0 {
			t.Errorf("the model's own observer was not restored (%d observations, %v)", observed, err)
		}
		m.Close()
		imps = append(imps, imp)
	}
	imp := imps[0]
	if !reflect.DeepEqual(imps[0], imps[1]) {
		t.Error("importance differs between 1 and 2 threads")
	}
	if imp.Tokens != int64(len(seqs[0])+len(seqs[1])+len(seqs[2])) {
		t.Errorf("tokens %d", imp.Tokens)
	}
	for l, hs := range imp.Heads {
		for h, s := range hs {
			if dead := l == 0 && (h == 2 || h == 3); dead != (s == 0) || s < 0 {
				t.Errorf("block %d head %d: importance %g", l, h, s)
			}
		}
	}
	for l, fs := range imp.FFN {
		for j, s := range fs {
			if dead := l == 1 && j == 5; dead != (s == 0) || s < 0 {
				t.Errorf("block %d FFN channel %d: importance %g", l, j, s)
			}
		}
	}
	for i, s := range imp.Hidden {
		if dead := i == 11; dead != (s == 0) || s < 0 {
			t.Errorf("hidden channel %d: importance %g", i, s)
		}
	}
	for l, s := range imp.Layers {
		if dead := l == 2; dead != (s < 1e-6) {
			t.Errorf("block %d: influence %g", l, s)
		}
	}

	_, _, rep, err := ApplyStructured(cfg, w, imp, StructuredSpec{Heads: 6, HeadMode: HeadsWholeGroups, FFN: 47, Hidden: 31, Layers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.DroppedLayers, []int{2}) || !slices.Equal(rep.KeptLayers, []int{0, 1, 3}) {
		t.Errorf("dropped %v, kept %v; want block 2 dropped", rep.DroppedLayers, rep.KeptLayers)
	}
	if !slices.Equal(rep.Heads[0].KV, []int{0, 2, 3}) {
		t.Errorf("block 0 keeps KV heads %v, want 0 2 3", rep.Heads[0].KV)
	}
	if slices.Contains(rep.FFN[1], 5) || len(rep.FFN[1]) != 47 {
		t.Errorf("block 1 keeps FFN channels %v, want all but 5", rep.FFN[1])
	}
	if slices.Contains(rep.Hidden, 11) || len(rep.Hidden) != 31 {
		t.Errorf("hidden channels kept %v, want all but 11", rep.Hidden)
	}
}

func TestMeasureImportanceBadInput(t *testing.T) {
	cfg := tinyConfig("llama")
	m, err := runtime.FromTensors(cfg, randomWeights(cfg, 10), nil, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	other := cfg
	other.FFN = 40
	for _, tc := range []struct {
		name string
		m    *runtime.Model
		cfg  convert.Config
		seqs [][]int32
		err  string
	}{
		{"no model", nil, cfg, [][]int32{{1}}, "no model"},
		{"other config", m, other, [][]int32{{1}}, "not the model's"},
		{"no tokens", m, cfg, [][]int32{{}, nil}, "no calibration tokens"},
	} {
		if _, err := MeasureImportance(context.Background(), tc.m, tc.cfg, tc.seqs); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want ErrBadInput with %q", tc.name, err, tc.err)
		}
	}
}
