package distill

import (
	"testing"

	"github.com/mcompress/mcompress/convert"
)

func TestParseHFConfig(t *testing.T) {
	base := tinyConfig("llama")
	for _, c := range []struct {
		name string
		json string
		want func(c *convert.Config)
		err  bool
	}{
		{"empty keeps the base", `{}`, func(c *convert.Config) {}, false},
		{"dimensions", `{"hidden_size": 64, "num_hidden_layers": 3, "intermediate_size": 96}`, func(c *convert.Config) {
			c.Hidden, c.Layers, c.FFN, c.HeadDim, c.RopeDim = 64, 3, 96, 16, 16
		}, false},
		{"heads without kv heads means no grouping", `{"num_attention_heads": 2}`, func(c *convert.Config) {
			c.Heads, c.KVHeads, c.HeadDim, c.RopeDim = 2, 2, 16, 16
		}, false},
		{"explicit head_dim", `{"num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8}`, func(c *convert.Config) {
			c.Heads, c.KVHeads = 2, 1
		}, false},
		{"mistral is llama", `{"architectures": ["MistralForCausalLM"], "sliding_window": 4096}`, func(c *convert.Config) {
			c.HFModelType, c.SlidingWindow = "mistral", 4096
		}, false},
		{"qwen2 has biases", `{"architectures": ["Qwen2ForCausalLM"]}`, func(c *convert.Config) {
			c.Arch, c.HFModelType, c.RopeNeoX, c.AttentionBias = "qwen2", "qwen2", true, true
		}, false},
		{"qwen3 has q/k norms", `{"model_type": "qwen3", "head_dim": 16}`, func(c *convert.Config) {
			c.Arch, c.HFModelType, c.RopeNeoX, c.QKNorm, c.HeadDim, c.RopeDim = "qwen3", "qwen3", true, true, 16, 16
		}, false},
		{"tied, eps, theta, context", `{"tie_word_embeddings": true, "rms_norm_eps": 1e-6, "rope_theta": 500000, "max_position_embeddings": 128}`, func(c *convert.Config) {
			c.TiedEmbeddings, c.RMSNormEps, c.RopeTheta, c.ContextLength = true, 1e-6, 500000, 128
		}, false},
		{"linear rope scaling", `{"rope_scaling": {"type": "linear", "factor": 2.0}}`, func(c *convert.Config) {
			c.RopeScaling = convert.RopeScaling{Type: "linear", Factor: 2}
		}, false},
		{"null fields are ignored", `{"rope_scaling": null, "head_dim": null}`, func(c *convert.Config) {}, false},
		{"not an object", `[1, 2]`, nil, true},
		{"negative width", `{"hidden_size": -4}`, nil, true},
		{"fractional layers", `{"num_hidden_layers": 2.5}`, nil, true},
		{"string number", `{"hidden_size": "64"}`, nil, true},
		{"bad bool", `{"tie_word_embeddings": "yes"}`, nil, true},
		{"unsupported architecture", `{"architectures": ["GPT2LMHeadModel"]}`, nil, true},
		{"mlp bias", `{"mlp_bias": true}`, nil, true},
		{"yarn for a new student", `{"rope_scaling": {"rope_type": "yarn", "factor": 4}}`, nil, true},
		{"zero eps", `{"rms_norm_eps": 0}`, nil, true},
		{"truncated", `{"hidden_size": 64`, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseHFConfig([]byte(c.json), base)
			if c.err {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := base
			c.want(&want)
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestConfigOverrides(t *testing.T) {
	base := tinyConfig("llama") // 4 heads, 2 KV heads, hidden 32, head dim 8
	tied := true
	for _, c := range []struct {
		name string
		o    ConfigOverrides
		want func(c *convert.Config)
	}{
		{"none", ConfigOverrides{}, func(c *convert.Config) {}},
		{"narrower keeps heads, recomputes head dim", ConfigOverrides{Hidden: 16}, func(c *convert.Config) { c.Hidden, c.HeadDim, c.RopeDim = 16, 4, 4 }},
		{"fewer heads keeps the group size", ConfigOverrides{Heads: 2}, func(c *convert.Config) { c.Heads, c.KVHeads, c.HeadDim, c.RopeDim = 2, 1, 16, 16 }},
		{"odd heads lose grouping", ConfigOverrides{Heads: 3}, func(c *convert.Config) { c.Heads, c.KVHeads, c.HeadDim, c.RopeDim = 3, 3, 10, 10 }},
		{"explicit", ConfigOverrides{Layers: 1, Heads: 8, KVHeads: 1, HeadDim: 4, FFN: 10, Tied: &tied}, func(c *convert.Config) {
			c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.RopeDim, c.FFN, c.TiedEmbeddings = 1, 8, 1, 4, 4, 10, true
		}},
	} {
		want := base
		c.want(&want)
		if got := c.o.Apply(base); got != want {
			t.Errorf("%s:\ngot  %+v\nwant %+v", c.name, got, want)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(c *convert.Config)
		ok   bool
	}{
		{"tiny llama", func(c *convert.Config) {}, true},
		{"gemma", func(c *convert.Config) { c.Arch = "gemma" }, false},
		{"partial rope", func(c *convert.Config) { c.RopeDim = 4 }, false},
		{"unknown scaling", func(c *convert.Config) { c.RopeScaling.Type = "longrope" }, false},
		{"kv heads do not divide", func(c *convert.Config) { c.KVHeads = 3 }, false},
		{"odd head dim", func(c *convert.Config) { c.HeadDim, c.RopeDim = 7, 7 }, false},
		{"huge", func(c *convert.Config) { c.Hidden, c.FFN, c.Layers = 1<<16, 1<<18, 1000 }, false},
	} {
		cfg := tinyConfig("llama")
		c.mod(&cfg)
		if err := CheckConfig(cfg); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestInitFromTeacher checks the layer map, copying and slicing.
func TestInitFromTeacher(t *testing.T) {
	tc := tinyConfig("llama")
	tc.Layers = 4
	teacher, err := NewModel(tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	teacher.InitRandom(1, 1)
	sc := ConfigOverrides{Layers: 2, Hidden: 16, FFN: 48}.Apply(tc)
	student, err := NewModel(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := student.InitFromTeacher(teacher, 2, 0)
	if len(rep.Random) != 0 || len(rep.Sliced) != student.Params.Len() {
		t.Errorf("report %v: copied %v", rep, rep.Copied)
	}
	// Block 1 of the student comes from block 2 of the teacher: its up projection (FFN 48 ×
	// hidden 16) is the leading 16 columns of the teacher's (48 × 32).
	s, tt := student.Params.Get("blk.1.ffn_up.weight"), teacher.Params.Get("blk.2.ffn_up.weight")
	for r := range 48 {
		for c := range 16 {
			if s.Data[r*16+c] != tt.Data[r*32+c] {
				t.Fatalf("blk.1.ffn_up[%d][%d] = %g, teacher blk.2 has %g", r, c, s.Data[r*16+c], tt.Data[r*32+c])
			}
		}
	}
	// A wider student cannot be sliced: random.
	wide, _ := NewModel(ConfigOverrides{Hidden: 64}.Apply(tc), nil)
	if rep := wide.InitFromTeacher(teacher, 2, 0); len(rep.Random) == 0 {
		t.Errorf("wider student: %v", rep)
	}
}
