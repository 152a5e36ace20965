package distill

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
)

// TestBadInput: every user mistake gives an error wrapping ErrBadInput that says what is wrong,
// and leaves no output folder behind.
func TestBadInput(t *testing.T) {
	fixtureDir(t)
	tmp := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := write("short.txt", "To be, or not to be.")
	badJSON := write("bad.json", `{"hidden_size": "wide"`)
	gemma := write("gemma.json", `{"architectures": ["GemmaForCausalLM"]}`)
	other := filepath.Join(tmp, "other.gguf")
	if err := runtime.WriteRandomModel(other, runtime.RandomModelOptions{Config: tinyConfig("llama"), Type: gguf.TypeF32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	junkCache := write("junk.topk", strings.Repeat("x", 100))
	synthetic := filepath.Join(tmp, "synthetic.topk")
	if err := os.WriteFile(synthetic, syntheticCache(t, 300, 4, 16, 2), 0o644); err != nil {
		t.Fatal(err)
	}
	aFile := write("a-file", "")
	cache32 := func() string {
		p := filepath.Join(tmp, "seq32.topk")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		o := smallRun(t, filepath.Join(tmp, "unused"), "forward")
		if _, err := BuildCache(context.Background(), CacheOptions{Teacher: o.Teacher, Data: o.Data, SeqLen: 32, K: 4, Output: p, Seed: 3}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		mod  func(o *Options)
		want string
	}{
		{"missing teacher", func(o *Options) { o.Teacher = filepath.Join(tmp, "nope.gguf") }, "nope.gguf"},
		{"teacher is not a model", func(o *Options) { o.Teacher = short }, "short.txt"},
		{"mismatched vocabulary", func(o *Options) { o.Student = StudentOptions{Path: other} }, "share a tokenizer"},
		{"config cannot be built", func(o *Options) { o.Student.Overrides = ConfigOverrides{Heads: 4, KVHeads: 3} }, "cannot be built"},
		{"config not JSON", func(o *Options) { o.Student.ConfigFile = badJSON }, "bad.json"},
		{"config architecture", func(o *Options) { o.Student.ConfigFile = gemma }, "GemmaForCausalLM"},
		{"missing config", func(o *Options) { o.Student.ConfigFile = filepath.Join(tmp, "none.json") }, "none.json"},
		{"dataset shorter than one sequence", func(o *Options) { o.Data.Path = short; o.SeqLen = 256 }, "fewer tokens than one sequence"},
		{"missing dataset", func(o *Options) { o.Data.Path = filepath.Join(tmp, "none.txt") }, "none.txt"},
		{"sequence longer than the teacher's context", func(o *Options) { o.SeqLen = 4096 }, "context"},
		{"unwritable output", func(o *Options) { o.Output = filepath.Join(aFile, "run") }, "a-file is not a folder"},
		{"alpha without teacher", func(o *Options) { o.Teacher = ""; o.Student.Tokenizer = other }, "needs a teacher"},
		{"learning rate", func(o *Options) { o.Optim.LR = -1 }, "learning rate"},
		{"alpha out of range", func(o *Options) { o.Loss.Alpha = 2 }, "alpha"},
		{"corrupt cache", func(o *Options) { o.TeacherCache = junkCache }, "junk.topk"},
		{"cache of another vocabulary", func(o *Options) { o.TeacherCache = synthetic }, "share a tokenizer"},
		{"loaded student with dimensions", func(o *Options) { o.Student.Path = other }, "cannot also be given"},
		{"unknown init", func(o *Options) { o.Student.Init = "magic" }, "magic"},
		{"negative clip", func(o *Options) { o.ClipNorm = -1 }, "must not be negative"},
		{"negative final learning rate", func(o *Options) { o.MinLR = -1e-4 }, "must not be negative"},
		// 256, the default length, is a length like any other: it used to mean "not set".
		{"sequence length other than the cache's", func(o *Options) { o.TeacherCache = cache32(); o.SeqLen = DefaultSeqLen }, "holds sequences of 32 tokens"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(tmp, "out-"+strings.ReplaceAll(c.name, " ", "-"))
			o := smallRun(t, out, "forward")
			c.mod(&o)
			if o.Output != out {
				out = o.Output
			}
			_, err := Run(context.Background(), o)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("error does not wrap ErrBadInput: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Errorf("output %s was created", out)
			}
		})
	}
}

// TestCheckSameTokenizer covers the tokenizer comparison.
func TestCheckSameTokenizer(t *testing.T) {
	md := func(toks ...string) gguf.Metadata {
		return gguf.Metadata{{Key: "tokenizer.ggml.tokens", Value: gguf.Array{Type: gguf.ValueString, Values: toks}}}
	}
	for _, c := range []struct {
		name   string
		va, vb int
		a, b   gguf.Metadata
		ok     bool
	}{
		{"same", 3, 3, md("a", "b", "c"), md("a", "b", "c"), true},
		{"vocab sizes", 3, 4, md("a", "b", "c"), md("a", "b", "c", "d"), false},
		{"token differs", 3, 3, md("a", "b", "c"), md("a", "x", "c"), false},
		{"lists differ in length", 3, 3, md("a", "b", "c"), md("a", "b"), false},
		{"one without tokenizer", 3, 3, md("a", "b", "c"), nil, true},
	} {
		err := checkSameTokenizer("A", c.va, c.a, "B", c.vb, c.b)
		if (err == nil) != c.ok {
			t.Errorf("%s: error %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: not ErrBadInput", c.name)
		}
	}
}
