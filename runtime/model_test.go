package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// tinyConfig returns a small config of the given architecture.
func tinyConfig(arch string) convert.Config {
	c := convert.Config{Arch: arch, VocabSize: 67, Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16,
		FFN: 96, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 16, BOS: 1, EOS: 2}
	switch arch {
	case "qwen2":
		c.RopeNeoX, c.AttentionBias, c.TiedEmbeddings = true, true, true
	case "qwen3":
		c.RopeNeoX, c.QKNorm = true, true
		c.HeadDim = 32 // qwen3 sets the head width explicitly (Heads*HeadDim != Hidden)
		c.RopeDim = 32
	}
	return c
}

// randomTensors returns random float32 weights for cfg under their GGUF names.
func randomTensors(cfg convert.Config, seed uint64) map[string]Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := map[string]Tensor{}
	mat := func(name string, rows, cols int) {
		d := make([]float32, rows*cols)
		for i := range d {
			d[i] = float32(rng.NormFloat64() / math.Sqrt(float64(cols)))
		}
		w[name] = Tensor{Dims: []int{cols, rows}, Data: d}
	}
	vec := func(name string, n int, mean, std float64) {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(mean + std*rng.NormFloat64())
		}
		w[name] = Tensor{Dims: []int{n}, Data: d}
	}
	mat("token_embd.weight", cfg.VocabSize, cfg.Hidden)
	if !cfg.TiedEmbeddings {
		mat("output.weight", cfg.VocabSize, cfg.Hidden)
	}
	vec("output_norm.weight", cfg.Hidden, 1, 0.1)
	for i := range cfg.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		vec(p+"attn_norm.weight", cfg.Hidden, 1, 0.1)
		vec(p+"ffn_norm.weight", cfg.Hidden, 1, 0.1)
		mat(p+"attn_q.weight", cfg.QDim(), cfg.Hidden)
		mat(p+"attn_k.weight", cfg.KVDim(), cfg.Hidden)
		mat(p+"attn_v.weight", cfg.KVDim(), cfg.Hidden)
		mat(p+"attn_output.weight", cfg.Hidden, cfg.QDim())
		mat(p+"ffn_gate.weight", cfg.FFN, cfg.Hidden)
		mat(p+"ffn_up.weight", cfg.FFN, cfg.Hidden)
		mat(p+"ffn_down.weight", cfg.Hidden, cfg.FFN)
		if cfg.AttentionBias {
			vec(p+"attn_q.bias", cfg.QDim(), 0, 0.3)
			vec(p+"attn_k.bias", cfg.KVDim(), 0, 0.3)
			vec(p+"attn_v.bias", cfg.KVDim(), 0, 0.3)
		}
		if cfg.QKNorm {
			vec(p+"attn_q_norm.weight", cfg.HeadDim, 1, 0.2)
			vec(p+"attn_k_norm.weight", cfg.HeadDim, 1, 0.2)
		}
	}
	return w
}

// refForward is a direct float64 transcription of the llama-family forward pass, one
// position at a time over the whole prefix, written independently of the runtime's batching.
func refForward(cfg convert.Config, w map[string]Tensor, tokens []int32) [][]float64 {
	get := func(name string) []float32 { return w[name].Data }
	matvec := func(name string, x []float64) []float64 {
		t := w[name]
		cols, rows := t.Dims[0], t.Dims[1]
		y := make([]float64, rows)
		for r := range rows {
			for c := range cols {
				y[r] += float64(t.Data[r*cols+c]) * x[c]
			}
		}
		return y
	}
	norm := func(x []float64, wt []float32) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		s := 1 / math.Sqrt(ss/float64(len(x))+cfg.RMSNormEps)
		y := make([]float64, len(x))
		for i := range x {
			y[i] = x[i] * s * float64(wt[i])
		}
		return y
	}
	rot := func(x []float64, pos int) {
		hd, half := cfg.HeadDim, cfg.RopeDim/2
		for h := 0; h < len(x)/hd; h++ {
			for i := range half {
				th := float64(pos) * math.Pow(cfg.RopeTheta, -2*float64(i)/float64(cfg.RopeDim))
				a, b := h*hd+2*i, h*hd+2*i+1
				if cfg.RopeNeoX {
					a, b = h*hd+i, h*hd+i+half
				}
				x0, x1 := x[a], x[b]
				x[a] = x0*math.Cos(th) - x1*math.Sin(th)
				x[b] = x0*math.Sin(th) + x1*math.Cos(th)
			}
		}
	}
	T := len(tokens)
	xs := make([][]float64, T)
	emb := w["token_embd.weight"]
	for t, tok := range tokens {
		xs[t] = make([]float64, cfg.Hidden)
		for i := range cfg.Hidden {
			xs[t][i] = float64(emb.Data[int(tok)*cfg.Hidden+i])
		}
	}
	for l := range cfg.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		ks, vs := make([][]float64, T), make([][]float64, T)
		qs := make([][]float64, T)
		for t := range T {
			xn := norm(xs[t], get(p+"attn_norm.weight"))
			q, k, v := matvec(p+"attn_q.weight", xn), matvec(p+"attn_k.weight", xn), matvec(p+"attn_v.weight", xn)
			if cfg.AttentionBias {
				for i := range q {
					q[i] += float64(get(p + "attn_q.bias")[i])
				}
				for i := range k {
					k[i] += float64(get(p + "attn_k.bias")[i])
					v[i] += float64(get(p + "attn_v.bias")[i])
				}
			}
			if cfg.QKNorm {
				for h := 0; h < cfg.Heads; h++ {
					copy(q[h*cfg.HeadDim:], norm(q[h*cfg.HeadDim:(h+1)*cfg.HeadDim], get(p+"attn_q_norm.weight")))
				}
				for h := 0; h < cfg.KVHeads; h++ {
					copy(k[h*cfg.HeadDim:], norm(k[h*cfg.HeadDim:(h+1)*cfg.HeadDim], get(p+"attn_k_norm.weight")))
				}
			}
			rot(q, t)
			rot(k, t)
			qs[t], ks[t], vs[t] = q, k, v
		}
		for t := range T {
			att := make([]float64, cfg.QDim())
			for h := range cfg.Heads {
				g := h / (cfg.Heads / cfg.KVHeads)
				sc := make([]float64, t+1)
				mx := math.Inf(-1)
				for j := 0; j <= t; j++ {
					for i := range cfg.HeadDim {
						sc[j] += qs[t][h*cfg.HeadDim+i] * ks[j][g*cfg.HeadDim+i]
					}
					sc[j] /= math.Sqrt(float64(cfg.HeadDim))
					mx = math.Max(mx, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					for i := range cfg.HeadDim {
						att[h*cfg.HeadDim+i] += sc[j] / sum * vs[j][g*cfg.HeadDim+i]
					}
				}
			}
			o := matvec(p+"attn_output.weight", att)
			for i := range o {
				xs[t][i] += o[i]
			}
			xn := norm(xs[t], get(p+"ffn_norm.weight"))
			g, u := matvec(p+"ffn_gate.weight", xn), matvec(p+"ffn_up.weight", xn)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			d := matvec(p+"ffn_down.weight", g)
			for i := range d {
				xs[t][i] += d[i]
			}
		}
	}
	out := "output.weight"
	if cfg.TiedEmbeddings {
		out = "token_embd.weight"
	}
	logits := make([][]float64, T)
	for t := range T {
		logits[t] = matvec(out, norm(xs[t], get("output_norm.weight")))
	}
	return logits
}

// TestArchitecturesAgainstReference runs llama, qwen2 (biases, NeoX RoPE, tied output) and
// qwen3 (q/k norms, explicit head width) on random weights against refForward, batched and
// token by token, with 1 and 3 threads (which must agree bit for bit).
func TestArchitecturesAgainstReference(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			cfg := tinyConfig(arch)
			w := randomTensors(cfg, 42)
			rng := rand.New(rand.NewPCG(9, 9))
			tokens := make([]int32, 23)
			for i := range tokens {
				tokens[i] = int32(rng.IntN(cfg.VocabSize))
			}
			want := refForward(cfg, w, tokens)
			var first []float32
			for _, threads := range []int{1, 3} {
				m, err := FromTensors(cfg, w, nil, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				s, err := m.NewSession(32)
				if err != nil {
					t.Fatal(err)
				}
				s.BatchSize = 8 // several micro-batches
				got, err := s.Forward(tokens, 0, true)
				if err != nil {
					t.Fatal(err)
				}
				for tt := range tokens {
					for i, v := range want[tt] {
						if g := float64(got[tt*cfg.VocabSize+i]); math.Abs(g-v) > 1e-4*(1+math.Abs(v)) {
							t.Fatalf("%d threads: token %d logit %d = %g, want %g", threads, tt, i, g, v)
						}
					}
				}
				if first == nil {
					first = got
				} else {
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
							t.Fatalf("3 threads differ from 1 at %d: %g vs %g", i, got[i], first[i])
						}
					}
				}
				// Token by token through the cache, re-evaluating a suffix once.
				s.Reset()
				for tt, tok := range tokens {
					row, err := s.Forward([]int32{tok}, tt, false)
					if err != nil {
						t.Fatal(err)
					}
					for i := range row {
						if math.Abs(float64(row[i])-float64(got[tt*cfg.VocabSize+i])) > 1e-5*(1+math.Abs(float64(row[i]))) {
							t.Fatalf("incremental token %d logit %d = %g, batched %g", tt, i, row[i], got[tt*cfg.VocabSize+i])
						}
					}
				}
				last, err := s.Forward(tokens[10:], 10, false)
				if err != nil {
					t.Fatal(err)
				}
				if e := relErr(last, got[(len(tokens)-1)*cfg.VocabSize:]); e > 1e-5 {
					t.Fatalf("re-evaluated suffix differs by %g", e)
				}
				m.Close()
			}
		})
	}
}

func TestForwardErrors(t *testing.T) {
	cfg := tinyConfig("llama")
	m, err := FromTensors(cfg, randomTensors(cfg, 1), nil, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(8)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		tokens []int32
		pos    int
	}{
		{"empty", nil, 0},
		{"negative token", []int32{-1}, 0},
		{"token past vocabulary", []int32{int32(cfg.VocabSize)}, 0},
		{"gap in positions", []int32{1}, 1},
		{"past context", make([]int32, 9), 0},
		{"negative position", []int32{1}, -1},
	}
	for _, c := range cases {
		if _, err := s.Forward(c.tokens, c.pos, false); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	cfg := tinyConfig("qwen2")
	cases := []struct {
		name string
		edit func(map[string]Tensor)
	}{
		{"missing tensor", func(w map[string]Tensor) { delete(w, "blk.1.ffn_up.weight") }},
		{"missing bias", func(w map[string]Tensor) { delete(w, "blk.0.attn_k.bias") }},
		{"wrong shape", func(w map[string]Tensor) {
			w["blk.0.attn_q.weight"] = Tensor{Dims: []int{32, 128}, Data: make([]float32, 32*128)}
		}},
		{"data shorter than shape", func(w map[string]Tensor) {
			w["output_norm.weight"] = Tensor{Dims: []int{64}, Data: make([]float32, 3)}
		}},
	}
	for _, c := range cases {
		w := randomTensors(cfg, 1)
		c.edit(w)
		if m, err := FromTensors(cfg, w, nil, Options{}); err == nil {
			m.Close()
			t.Errorf("%s: no error", c.name)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.gguf"), Options{}); err == nil {
		t.Error("Load of a missing file: no error")
	}
}

// TestRandomModelFile writes quantized random models, loads them back through the memory map
// and checks that the logits are finite and independent of the thread count.
func TestRandomModelFile(t *testing.T) {
	for _, c := range []struct {
		arch  string
		typ   gguf.TensorType
		mixed bool
	}{{"llama", gguf.TypeQ8_0, false}, {"qwen2", gguf.TypeQ4_K, true}, {"qwen3", gguf.TypeQ4_0, false}} {
		cfg := tinyConfig(c.arch)
		cfg.Hidden, cfg.FFN, cfg.VocabSize = 256, 512, 300
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := WriteRandomModel(path, RandomModelOptions{Config: cfg, Type: c.typ, Mixed: c.mixed, Seed: 3}); err != nil {
			t.Fatal(err)
		}
		var first []float32
		for _, threads := range []int{1, 2} {
			m, err := Load(path, Options{Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			if m.Config().Arch != c.arch {
				t.Fatalf("arch %q", m.Config().Arch)
			}
			s, _ := m.NewSession(16)
			got, err := s.Forward([]int32{1, 5, 200, 7}, 0, true)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s %s: logit %d is %g", c.arch, c.typ, i, v)
				}
				if first != nil && math.Float32bits(v) != math.Float32bits(first[i]) {
					t.Fatalf("%s %s: 2 threads differ at %d", c.arch, c.typ, i)
				}
			}
			first = got
			m.Close()
		}
	}
}

// TestActivationObserver checks that every site reports once per batch, in the order of the
// forward pass, with the weights it feeds and the shapes of the model, and that a block's
// output is the next block's input.
func TestActivationObserver(t *testing.T) {
	cfg := tinyConfig("llama")
	type call struct {
		site       Site
		layer      int
		weights    string
		rows, cols int
	}
	var got []call
	var blockIn, blockOut [][]float32
	obs := func(a Activations) {
		if len(a.X) != a.Rows*a.Cols {
			t.Errorf("%s %d: %d values for %dx%d", a.Site, a.Layer, len(a.X), a.Rows, a.Cols)
		}
		got = append(got, call{a.Site, a.Layer, strings.Join(a.Weights, ","), a.Rows, a.Cols})
		switch a.Site {
		case SiteBlockInput:
			blockIn = append(blockIn, slices.Clone(a.X))
		case SiteBlockOutput:
			blockOut = append(blockOut, slices.Clone(a.X))
		}
	}
	m, err := FromTensors(cfg, randomTensors(cfg, 3), nil, Options{Threads: 1, ActivationObserver: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, _ := m.NewSession(16)
	if _, err := s.Forward([]int32{1, 2, 3, 4, 5}, 0, false); err != nil {
		t.Fatal(err)
	}
	var want []call
	h := cfg.Hidden
	for l := range cfg.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		want = append(want,
			call{SiteBlockInput, l, "", 5, h},
			call{SiteAttnInput, l, p + "attn_q.weight," + p + "attn_k.weight," + p + "attn_v.weight", 5, h},
			call{SiteAttnOutput, l, p + "attn_output.weight", 5, cfg.QDim()},
			call{SiteFFNInput, l, p + "ffn_gate.weight," + p + "ffn_up.weight", 5, h},
			call{SiteFFNDown, l, p + "ffn_down.weight", 5, cfg.FFN},
			call{SiteBlockOutput, l, "", 5, h})
	}
	want = append(want, call{SiteOutput, cfg.Layers, "output.weight", 1, h}) // the last row's logits only
	if !reflect.DeepEqual(got, want) {
		t.Errorf("observed\n%v\nwant\n%v", got, want)
	}
	for l := 1; l < len(blockIn); l++ {
		if !slices.Equal(blockIn[l], blockOut[l-1]) {
			t.Errorf("block %d input differs from block %d output", l, l-1)
		}
	}
	if SiteFFNDown.String() != "ffn_down" || Site(99).String() != "Site(99)" {
		t.Errorf("site names %q %q", SiteFFNDown, Site(99))
	}
}

// TestRandomModelTokenizer checks that a random model's placeholder vocabulary loads and
// round-trips text through byte fallback.
func TestRandomModelTokenizer(t *testing.T) {
	cfg := tinyConfig("llama")
	cfg.VocabSize = 300
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteRandomModel(path, RandomModelOptions{Config: cfg, Type: gguf.TypeF16, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := tokenizer.FromGGUF(m.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode("hi é", tokenizer.EncodeOptions{AddSpecial: true})
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != 1 || tok.Decode(ids) != "hi é" {
		t.Fatalf("ids %v decode to %q", ids, tok.Decode(ids))
	}
}
