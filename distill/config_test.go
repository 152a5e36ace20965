package distill

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
)

// TestReadHFConfig: a student config.json is read by convert (one reader) over the base, and
// a new student refuses RoPE scaling it cannot start with.
func TestReadHFConfig(t *testing.T) {
	dir := t.TempDir()
	base := tinyConfig("llama")
	for _, c := range []struct {
		name string
		json string
		want func(c *convert.Config)
		err  string
	}{
		{"dimensions", `{"hidden_size": 64, "num_hidden_layers": 3}`, func(c *convert.Config) {
			c.Hidden, c.Layers, c.HeadDim, c.RopeDim = 64, 3, 16, 16
		}, ""},
		{"qwen3 student of a llama teacher", `{"architectures": ["Qwen3ForCausalLM"], "head_dim": 16}`, func(c *convert.Config) {
			c.Arch, c.HFModelType, c.RopeNeoX, c.QKNorm, c.HeadDim, c.RopeDim = "qwen3", "qwen3", true, true, 16, 16
		}, ""},
		{"linear rope scaling", `{"rope_scaling": {"type": "linear", "factor": 2.0}}`, func(c *convert.Config) {
			c.RopeScaling = convert.RopeScaling{Type: "linear", Factor: 2}
		}, ""},
		{"default rope", `{"rope_scaling": {"rope_type": "default"}}`, func(c *convert.Config) {}, ""},
		{"yarn for a new student", `{"rope_scaling": {"rope_type": "yarn", "factor": 4, "original_max_position_embeddings": 32}}`, nil, "not supported for a new student"},
		{"llama3 for a new student", `{"rope_scaling": {"rope_type": "llama3", "factor": 8}}`, nil, "not supported for a new student"},
		{"negative linear factor", `{"rope_scaling": {"type": "linear", "factor": -2}}`, nil, "must be positive"},
		{"unsupported architecture", `{"architectures": ["GPT2LMHeadModel"]}`, nil, "LlamaForCausalLM, MistralForCausalLM"},
		{"bad width", `{"hidden_size": -4}`, nil, `"hidden_size"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".json")
			if err := os.WriteFile(p, []byte(c.json), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadHFConfig(p, base)
			if c.err != "" {
				if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), p) {
					t.Errorf("error %v: want ErrBadInput naming %s and %q", err, p, c.err)
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
	if _, err := ReadHFConfig(filepath.Join(dir, "missing"), base); !errors.Is(err, ErrBadInput) {
		t.Errorf("missing file: %v", err)
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
