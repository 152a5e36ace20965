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
	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
)

// famSpec describes a tiny Gemma 2, Gemma 3 or Phi-3 model in Hugging Face's terms, for the
// float64 reference below (written from transformers' modeling code, independently of the
// runtime and of llama.cpp's graph).
type famSpec struct {
	arch                               string // gemma2, gemma3, phi3
	hidden, layers, heads, kv, hd, ffn int
	vocab, ropeDim                     int
	theta, thetaLocal, linear          float64 // global base, local base (gemma3), linear factor of the global layers (gemma3)
	window, pattern                    int     // sliding window and its layer period (gemma)
	attnCap, finalCap                  float64
	tied                               bool
	maxPos, origPos                    int       // phi3 LongRoPE: max_position_embeddings, original_max_position_embeddings
	shortFactor, longFactor            []float64 // phi3 LongRoPE factors (nil: none)
}

var famSpecs = []famSpec{
	// Gemma 2: head_dim ≠ hidden/heads, GQA, FFN not a multiple of 32, window 5 shorter than the
	// test's 23 tokens, soft caps small enough to bite, tied output.
	{arch: "gemma2", hidden: 48, layers: 3, heads: 4, kv: 2, hd: 16, ffn: 80, vocab: 67, ropeDim: 16,
		theta: 10000, window: 5, pattern: 2, attnCap: 2.5, finalCap: 3, tied: true},
	// Gemma 3: q/k norms, 7 layers so the pattern of 6 has local layers on both sides of the
	// global one, separate local RoPE base, linear scaling on the global layers, untied output.
	{arch: "gemma3", hidden: 48, layers: 7, heads: 4, kv: 1, hd: 16, ffn: 72, vocab: 61, ropeDim: 16,
		theta: 1e6, thetaLocal: 10000, linear: 2, window: 4, pattern: 6, finalCap: 0},
	// Phi-3 / Phi-4-mini: fused projections, partial rotary (12 of 16 dims), GQA, LongRoPE.
	{arch: "phi3", hidden: 64, layers: 2, heads: 4, kv: 2, hd: 16, ffn: 96, vocab: 71, ropeDim: 12,
		theta: 10000, maxPos: 64, origPos: 16,
		shortFactor: []float64{1, 1.1, 1.3, 1.7, 2.2, 3}, longFactor: []float64{1.5, 2, 3, 5, 8, 13}},
}

// config is the runtime Config the GGUF file of s describes.
func (s famSpec) config() convert.Config {
	c := convert.Config{Arch: s.arch, VocabSize: s.vocab, Hidden: s.hidden, Layers: s.layers, Heads: s.heads,
		KVHeads: s.kv, HeadDim: s.hd, FFN: s.ffn, ContextLength: 64, RMSNormEps: 1e-6, RopeTheta: s.theta,
		RopeDim: s.ropeDim, RopeNeoX: true, TiedEmbeddings: s.tied, BOS: 1, EOS: 2}
	switch s.arch {
	case "gemma2", "gemma3":
		c.EmbedScale, c.PostNorms, c.GELU = true, true, true
		c.SlidingWindow, c.SWAPattern = s.window, s.pattern
		c.AttnSoftcap, c.FinalSoftcap = s.attnCap, s.finalCap
		c.RopeThetaSWA = s.thetaLocal
		c.QKNorm = s.arch == "gemma3"
		if s.linear > 0 {
			c.RopeScaling = convert.RopeScaling{Type: "linear", Factor: s.linear}
		}
	case "phi3":
		c.ContextLength = s.maxPos
		scale := float64(s.maxPos) / float64(s.origPos)
		c.RopeScaling = convert.RopeScaling{Type: "longrope", OriginalContext: s.origPos,
			AttnFactor: math.Sqrt(1 + math.Log(scale)/math.Log(float64(s.origPos)))}
	}
	return c
}

// hfWeights returns random weights in Hugging Face's form (separate q/k/v and gate/up, Gemma's
// norm weights w of x·(1+w)) under GGUF-style names.
func (s famSpec) hfWeights(seed uint64) map[string]Tensor {
	rng := rand.New(rand.NewPCG(seed, 3))
	w := map[string]Tensor{}
	mat := func(name string, rows, cols int) {
		d := make([]float32, rows*cols)
		for i := range d {
			d[i] = float32(rng.NormFloat64() / math.Sqrt(float64(cols)))
		}
		w[name] = Tensor{Dims: []int{cols, rows}, Data: d}
	}
	normMean := 1.0
	if s.arch != "phi3" {
		normMean = 0 // Gemma's norms multiply by 1+w
	}
	vec := func(name string, n int) {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(normMean + 0.1*rng.NormFloat64())
		}
		w[name] = Tensor{Dims: []int{n}, Data: d}
	}
	q, kv := s.heads*s.hd, s.kv*s.hd
	mat("token_embd.weight", s.vocab, s.hidden)
	if !s.tied {
		mat("output.weight", s.vocab, s.hidden)
	}
	vec("output_norm.weight", s.hidden)
	for l := range s.layers {
		p := fmt.Sprintf("blk.%d.", l)
		vec(p+"attn_norm.weight", s.hidden)
		vec(p+"ffn_norm.weight", s.hidden)
		mat(p+"attn_q.weight", q, s.hidden)
		mat(p+"attn_k.weight", kv, s.hidden)
		mat(p+"attn_v.weight", kv, s.hidden)
		mat(p+"attn_output.weight", s.hidden, q)
		mat(p+"ffn_gate.weight", s.ffn, s.hidden)
		mat(p+"ffn_up.weight", s.ffn, s.hidden)
		mat(p+"ffn_down.weight", s.hidden, s.ffn)
		if s.arch != "phi3" {
			vec(p+"post_attention_norm.weight", s.hidden)
			vec(p+"post_ffw_norm.weight", s.hidden)
		}
		if s.arch == "gemma3" {
			vec(p+"attn_q_norm.weight", s.hd)
			vec(p+"attn_k_norm.weight", s.hd)
		}
	}
	return w
}

// ggufTensors turns Hugging Face weights into what llama.cpp's converter stores: Gemma's norms
// as 1+w, Phi-3's fused attn_qkv and ffn_up (gate rows first) and its LongRoPE factor tensors.
func (s famSpec) ggufTensors(hf map[string]Tensor) map[string]Tensor {
	out := map[string]Tensor{}
	for name, t := range hf {
		if s.arch != "phi3" && strings.HasSuffix(name, "norm.weight") {
			d := make([]float32, len(t.Data))
			for i, v := range t.Data {
				d[i] = v + 1
			}
			t = Tensor{Dims: t.Dims, Data: d}
		}
		out[name] = t
	}
	if s.arch == "phi3" {
		cat := func(dst string, parts ...string) {
			var d []float32
			rows := 0
			for _, p := range parts {
				d = append(d, out[p].Data...)
				rows += out[p].Dims[1]
				delete(out, p)
			}
			out[dst] = Tensor{Dims: []int{s.hidden, rows}, Data: d}
		}
		for l := range s.layers {
			p := fmt.Sprintf("blk.%d.", l)
			cat(p+"attn_qkv.weight", p+"attn_q.weight", p+"attn_k.weight", p+"attn_v.weight")
			cat(p+"ffn_up.weight", p+"ffn_gate.weight", p+"ffn_up.weight")
		}
		f32 := func(v []float64) []float32 {
			o := make([]float32, len(v))
			for i, x := range v {
				o[i] = float32(x)
			}
			return o
		}
		out["rope_factors_long.weight"] = Tensor{Dims: []int{len(s.longFactor)}, Data: f32(s.longFactor)}
		out["rope_factors_short.weight"] = Tensor{Dims: []int{len(s.shortFactor)}, Data: f32(s.shortFactor)}
	}
	return out
}

// hfForward is the transformers forward pass of s in float64 over the whole prefix: Gemma's
// (1+w) RMSNorms, sqrt(hidden) embedding scale, query_pre_attn_scalar = head_dim, attention and
// final soft-capping, sliding windows on the local layers with their RoPE, GeGLU with
// gelu_pytorch_tanh; Phi-3's partial rotary with LongRoPE (long factors when long is set) and
// its attention factor. hf holds the Hugging Face weights.
func (s famSpec) hfForward(hf map[string]Tensor, tokens []int32, long bool) [][]float64 {
	gemma := s.arch != "phi3"
	get := func(name string) []float32 { return hf[name].Data }
	matvec := func(name string, x []float64) []float64 {
		t := hf[name]
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
		sc := 1 / math.Sqrt(ss/float64(len(x))+1e-6)
		y := make([]float64, len(x))
		for i := range x {
			wv := float64(wt[i])
			if gemma {
				wv += 1
			}
			y[i] = x[i] * sc * wv
		}
		return y
	}
	local := func(l int) bool { return gemma && (l+1)%s.pattern != 0 }
	rot := func(x []float64, pos, l int) {
		dim, half := s.ropeDim, s.ropeDim/2
		base, mscale := s.theta, 1.0
		var factors []float64
		if local(l) && s.thetaLocal > 0 {
			base = s.thetaLocal
		}
		if s.arch == "phi3" {
			factors = s.shortFactor
			if long {
				factors = s.longFactor
			}
			sc := float64(s.maxPos) / float64(s.origPos)
			mscale = math.Sqrt(1 + math.Log(sc)/math.Log(float64(s.origPos)))
		}
		for h := 0; h < len(x)/s.hd; h++ {
			for i := range half {
				inv := 1 / math.Pow(base, float64(2*i)/float64(dim))
				if factors != nil {
					inv /= factors[i]
				}
				if s.linear > 0 && !local(l) {
					inv /= s.linear
				}
				th := float64(pos) * inv
				c, sn := math.Cos(th)*mscale, math.Sin(th)*mscale
				a, b := h*s.hd+i, h*s.hd+i+half // rotate_half on the rotary part
				x0, x1 := x[a], x[b]
				x[a] = x0*c - x1*sn
				x[b] = x1*c + x0*sn
			}
		}
	}
	T := len(tokens)
	xs := make([][]float64, T)
	emb := hf["token_embd.weight"]
	for t, tok := range tokens {
		xs[t] = make([]float64, s.hidden)
		for i := range s.hidden {
			xs[t][i] = float64(emb.Data[int(tok)*s.hidden+i])
			if gemma {
				xs[t][i] *= float64(float32(math.Sqrt(float64(s.hidden))))
			}
		}
	}
	for l := range s.layers {
		p := fmt.Sprintf("blk.%d.", l)
		qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for t := range T {
			xn := norm(xs[t], get(p+"attn_norm.weight"))
			q, k, v := matvec(p+"attn_q.weight", xn), matvec(p+"attn_k.weight", xn), matvec(p+"attn_v.weight", xn)
			if s.arch == "gemma3" {
				for h := range s.heads {
					copy(q[h*s.hd:], norm(q[h*s.hd:(h+1)*s.hd], get(p+"attn_q_norm.weight")))
				}
				for h := range s.kv {
					copy(k[h*s.hd:], norm(k[h*s.hd:(h+1)*s.hd], get(p+"attn_k_norm.weight")))
				}
			}
			rot(q, t, l)
			rot(k, t, l)
			qs[t], ks[t], vs[t] = q, k, v
		}
		for t := range T {
			att := make([]float64, s.heads*s.hd)
			lo := 0
			if local(l) {
				lo = max(0, t-s.window+1)
			}
			for h := range s.heads {
				g := h / (s.heads / s.kv)
				sc := make([]float64, t+1)
				mx := math.Inf(-1)
				for j := lo; j <= t; j++ {
					for i := range s.hd {
						sc[j] += qs[t][h*s.hd+i] * ks[j][g*s.hd+i]
					}
					sc[j] /= math.Sqrt(float64(s.hd))
					if s.attnCap > 0 {
						sc[j] = s.attnCap * math.Tanh(sc[j]/s.attnCap)
					}
					mx = math.Max(mx, sc[j])
				}
				var sum float64
				for j := lo; j <= t; j++ {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := lo; j <= t; j++ {
					for i := range s.hd {
						att[h*s.hd+i] += sc[j] / sum * vs[j][g*s.hd+i]
					}
				}
			}
			o := matvec(p+"attn_output.weight", att)
			if gemma {
				o = norm(o, get(p+"post_attention_norm.weight"))
			}
			for i := range o {
				xs[t][i] += o[i]
			}
			xn := norm(xs[t], get(p+"ffn_norm.weight"))
			g, u := matvec(p+"ffn_gate.weight", xn), matvec(p+"ffn_up.weight", xn)
			for i := range g {
				if gemma {
					x := g[i]
					g[i] = 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))) * u[i]
				} else {
					g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
				}
			}
			d := matvec(p+"ffn_down.weight", g)
			if gemma {
				d = norm(d, get(p+"post_ffw_norm.weight"))
			}
			for i := range d {
				xs[t][i] += d[i]
			}
		}
	}
	out := "output.weight"
	if s.tied {
		out = "token_embd.weight"
	}
	logits := make([][]float64, T)
	for t := range T {
		logits[t] = matvec(out, norm(xs[t], get("output_norm.weight")))
		if s.finalCap > 0 {
			for i, v := range logits[t] {
				logits[t][i] = s.finalCap * math.Tanh(v/s.finalCap)
			}
		}
	}
	return logits
}

// refGELU is gelu_pytorch_tanh as llama.cpp's CPU backend evaluates it (the runtime follows
// llama.cpp): the input rounded to F16, GELU in float64, the result rounded to F16; 0 below −10
// and the identity above 10. (hfForward uses the exact formula: the forward-pass tests set
// exactGELU, and TestGELU checks the table.)
func refGELU(x float64) float64 {
	switch {
	case x <= -10:
		return 0
	case x >= 10:
		return x
	}
	h := float64(dtype.F16ToF32(dtype.F32ToF16(float32(x))))
	return float64(dtype.F16ToF32(dtype.F32ToF16(float32(0.5 * h * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(h+0.044715*h*h*h)))))))
}

// TestGELU: the table GELU agrees with the exact tanh formula within F16 rounding and follows
// ggml's cut-offs, and GeGLU multiplies it by the up projection in float32.
func TestGELU(t *testing.T) {
	for _, x := range []float32{-12, -10, -3.7, -1, -0.01, 0, 1e-4, 0.5, 1.3, 2.9, 9.99, 10, 50} {
		exact := 0.5 * float64(x) * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(float64(x)+0.044715*math.Pow(float64(x), 3))))
		got := float64(gelu(x))
		if math.Abs(got-exact) > 2e-3*math.Abs(exact)+1e-6 {
			t.Errorf("gelu(%g) = %g, exact %g", x, got, exact)
		}
		if want := refGELU(float64(x)); got != want && x > -10 && x < 10 {
			t.Errorf("gelu(%g) = %g, F16 table value %g", x, got, want)
		}
	}
	if gelu(-10) != 0 || gelu(10) != 10 || gelu(-10.5) != 0 {
		t.Error("cut-offs")
	}
	g, u := []float32{1.3, -20, 20}, []float32{2, 3, 0.5}
	geGLU(g, u)
	if g[0] != gelu(1.3)*2 || g[1] != 0 || g[2] != 10 {
		t.Errorf("geGLU = %v", g)
	}
}

// withExactGELU makes the runtime's GeGLU exact for the rest of the test (see exactGELU).
func withExactGELU(t *testing.T) {
	exactGELU = true
	t.Cleanup(func() { exactGELU = false })
}

// famTokens returns n random tokens of s's vocabulary.
func famTokens(s famSpec, n int) []int32 {
	rng := rand.New(rand.NewPCG(5, 5))
	tokens := make([]int32, n)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(s.vocab))
	}
	return tokens
}

// checkLogits compares all-position logits against the reference within 1e-4 (relative).
func checkLogits(t *testing.T, what string, got []float32, want [][]float64, vocab int) {
	t.Helper()
	for tt := range want {
		for i, v := range want[tt] {
			if g := float64(got[tt*vocab+i]); math.Abs(g-v) > 1e-4*(1+math.Abs(v)) {
				t.Fatalf("%s: token %d logit %d = %g, want %g", what, tt, i, g, v)
			}
		}
	}
}

// TestFamiliesAgainstReference runs Gemma 2, Gemma 3 and Phi-3 on random weights against the
// transformers-style reference over a context longer than the sliding window: batched in
// micro-batches, token by token through the cache, with 1 and 3 threads (bit-identical), and
// for Phi-3 in a short session (short LongRoPE factors) and a long one (long factors).
func TestFamiliesAgainstReference(t *testing.T) {
	withExactGELU(t)
	for _, spec := range famSpecs {
		t.Run(spec.arch, func(t *testing.T) {
			cfg := spec.config()
			hf := spec.hfWeights(11)
			w := spec.ggufTensors(hf)
			tokens := famTokens(spec, 15)
			ctxs := []int{32}
			if spec.arch == "phi3" {
				ctxs = []int{spec.origPos, 32} // within the original context, then beyond it
			}
			for _, ctx := range ctxs {
				want := spec.hfForward(hf, tokens, ctx > spec.origPos && spec.arch == "phi3")
				var first []float32
				for _, threads := range []int{1, 3} {
					m, err := FromTensors(cfg, w, nil, Options{Threads: threads})
					if err != nil {
						t.Fatal(err)
					}
					defer m.Close()
					s, err := m.NewSession(ctx)
					if err != nil {
						t.Fatal(err)
					}
					s.BatchSize = 6
					got, err := s.Forward(tokens, 0, true)
					if err != nil {
						t.Fatal(err)
					}
					checkLogits(t, fmt.Sprintf("ctx %d, %d threads", ctx, threads), got, want, cfg.VocabSize)
					if first == nil {
						first = got
					} else if !slices.Equal(got, first) {
						t.Fatalf("ctx %d: 3 threads differ from 1", ctx)
					}
					s.Reset()
					for tt, tok := range tokens {
						row, err := s.Forward([]int32{tok}, tt, false)
						if err != nil {
							t.Fatal(err)
						}
						if e := relErr(row, got[tt*cfg.VocabSize:(tt+1)*cfg.VocabSize]); e > 1e-5 {
							t.Fatalf("ctx %d: incremental token %d differs from batched by %g", ctx, tt, e)
						}
					}
				}
			}
		})
	}
}

// TestFamilyFeaturesMatter checks that each Gemma/Phi feature changes the logits, so the
// reference comparison above could not pass with the feature ignored.
func TestFamilyFeaturesMatter(t *testing.T) {
	logits := func(cfg convert.Config, w map[string]Tensor, tokens []int32, ctx int) []float32 {
		m, err := FromTensors(cfg, w, nil, Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		s, err := m.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Forward(tokens, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, spec := range famSpecs {
		cfg := spec.config()
		w := spec.ggufTensors(spec.hfWeights(11))
		tokens := famTokens(spec, 15)
		base := logits(cfg, w, tokens, 32)
		for _, c := range []struct {
			name string
			arch string
			edit func(*convert.Config)
		}{
			{"embedding scale", "gemma", func(c *convert.Config) { c.EmbedScale = false }},
			{"GeGLU", "gemma", func(c *convert.Config) { c.GELU = false }},
			{"sliding window", "gemma", func(c *convert.Config) { c.SlidingWindow = 0 }},
			{"attention soft-cap", "gemma2", func(c *convert.Config) { c.AttnSoftcap = 0 }},
			{"final soft-cap", "gemma2", func(c *convert.Config) { c.FinalSoftcap = 0 }},
			{"local RoPE base", "gemma3", func(c *convert.Config) { c.RopeThetaSWA = 0 }},
			{"LongRoPE attention factor", "phi3", func(c *convert.Config) { c.RopeScaling.AttnFactor = 1 }},
			{"partial rotary", "phi3", func(c *convert.Config) { c.RopeDim = c.HeadDim }},
		} {
			if !strings.HasPrefix(spec.arch, c.arch) {
				continue
			}
			alt := cfg
			c.edit(&alt)
			w2 := w
			if alt.RopeDim != cfg.RopeDim { // the factor tensors follow the rotated width
				w2 = map[string]Tensor{}
				for k, v := range w {
					w2[k] = v
				}
				ones := make([]float32, alt.RopeDim/2)
				for i := range ones {
					ones[i] = 1
				}
				w2["rope_factors_long.weight"] = Tensor{Dims: []int{len(ones)}, Data: ones}
				w2["rope_factors_short.weight"] = Tensor{Dims: []int{len(ones)}, Data: ones}
			}
			if e := relErr(logits(alt, w2, tokens, 32), base); e < 1e-3 {
				t.Errorf("%s: %s off changes the logits by only %g", spec.arch, c.name, e)
			}
		}
	}
}

// TestRandomFamilyModels: WriteRandomModel writes Gemma 2/3 and Phi-3 files (family keys,
// post-norms, fused tensors, LongRoPE factors) that load back with the Config they were written
// from and run; the benchmark shapes are valid configurations.
func TestRandomFamilyModels(t *testing.T) {
	for _, spec := range famSpecs {
		t.Run(spec.arch, func(t *testing.T) {
			cfg := spec.config()
			cfg.RopeScaling.AttnFactor = float64(float32(cfg.RopeScaling.AttnFactor))
			cfg.RMSNormEps = float64(float32(cfg.RMSNormEps))
			path := filepath.Join(t.TempDir(), "m.gguf")
			if err := WriteRandomModel(path, RandomModelOptions{Config: cfg, Type: gguf.TypeQ8_0, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			m, err := Load(path, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			got := m.Config()
			got.Name, got.HFModelType, got.BOS, got.EOS = cfg.Name, cfg.HFModelType, cfg.BOS, cfg.EOS
			if !reflect.DeepEqual(got, cfg) {
				t.Fatalf("read back\n%+v\nwritten\n%+v", got, cfg)
			}
			s, err := m.NewSession(32)
			if err != nil {
				t.Fatal(err)
			}
			logits, err := s.Forward(famTokens(spec, 20), 0, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range logits {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("logit %g", v)
				}
			}
		})
	}
	for _, size := range []string{"gemma3-1b", "phi4-mini"} {
		c, err := RandomConfig(size)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", size, err)
		}
	}
}

// TestObserverFusedNames: with Phi-3's fused tensors the observer names the matrices the
// activations really feed (attn_qkv, the fused ffn_up), which calibration keys its statistics by.
func TestObserverFusedNames(t *testing.T) {
	spec := famSpecs[2]
	cfg := spec.config()
	seen := map[Site]string{}
	obs := func(a Activations) {
		if a.Layer == 1 {
			seen[a.Site] = strings.Join(a.Weights, ",")
		}
	}
	m, err := FromTensors(cfg, spec.ggufTensors(spec.hfWeights(1)), nil, Options{Threads: 1, ActivationObserver: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Forward([]int32{1, 2, 3}, 0, false); err != nil {
		t.Fatal(err)
	}
	if seen[SiteAttnInput] != "blk.1.attn_qkv.weight" || seen[SiteFFNInput] != "blk.1.ffn_up.weight" {
		t.Errorf("attention input feeds %q, FFN input %q", seen[SiteAttnInput], seen[SiteFFNInput])
	}
}

// TestGemmaTableGELU: with ggml's F16 GELU table (the default, as llama.cpp computes it) Gemma's
// logits stay within the table's rounding of the exact reference, and differ from the exact
// GeGLU's (so the table is really used).
func TestGemmaTableGELU(t *testing.T) {
	spec := famSpecs[0]
	cfg := spec.config()
	hf := spec.hfWeights(11)
	tokens := famTokens(spec, 15)
	want := spec.hfForward(hf, tokens, false)
	run := func() []float32 {
		m, err := FromTensors(cfg, spec.ggufTensors(hf), nil, Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		s, err := m.NewSession(32)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Forward(tokens, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	table := run()
	for tt := range want {
		for i, v := range want[tt] {
			if g := float64(table[tt*cfg.VocabSize+i]); math.Abs(g-v) > 5e-3*(1+math.Abs(v)) {
				t.Fatalf("token %d logit %d = %g, exact GELU gives %g", tt, i, g, v)
			}
		}
	}
	exactGELU = true
	defer func() { exactGELU = false }()
	if slices.Equal(run(), table) {
		t.Error("the F16 table GELU gives the same logits as the exact one")
	}
}
