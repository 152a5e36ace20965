package convert

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/safetensors"
)

// tinyLlama is a small valid checkpoint the bad-input cases start from.
var tinyLlama = synth{arch: "LlamaForCausalLM", modelType: "llama", hidden: 32, layers: 1, heads: 2, kv: 2,
	ffn: 48, vocab: 300, dtype: safetensors.F16, tokenizer: "spm"}

// rewriteHeader replaces the JSON header of dir/model.safetensors, keeping the data.
func rewriteHeader(t *testing.T, dir string, edit func(h string) string) {
	t.Helper()
	p := filepath.Join(dir, "model.safetensors")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	h := edit(string(b[8 : 8+n]))
	out := make([]byte, 8, len(b)+64)
	binary.LittleEndian.PutUint64(out, uint64(len(h)))
	out = append(append(out, h...), b[8+n:]...)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func editConfig(t *testing.T, dir string, edit func(m map[string]any)) {
	t.Helper()
	hp, err := readJSONObject(filepath.Join(dir, "config.json"), false)
	if err != nil {
		t.Fatal(err)
	}
	edit(hp.m)
	writeJSON(t, filepath.Join(dir, "config.json"), hp.m)
}

// TestBadInput checks that every kind of bad checkpoint is refused with an error that wraps
// ErrBadInput, names the file and the problem, and that no output file is left behind.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string
	}{
		{"truncated safetensors", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			st, _ := os.Stat(p)
			if err := os.Truncate(p, st.Size()-100); err != nil {
				t.Fatal(err)
			}
		}, []string{"model.safetensors", "past end of file"}},
		{"header length past the end", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			binary.LittleEndian.PutUint64(b, uint64(len(b)))
			os.WriteFile(p, b, 0o644)
		}, []string{"model.safetensors", "header length", "past end of file"}},
		{"overlapping offsets", func(t *testing.T, dir string) {
			// Move one tensor's range back by 2 bytes so that it overlaps the one before.
			c, _ := safetensors.OpenCheckpoint(dir)
			var b safetensors.Entry
			for _, e := range c.Entries() {
				if e.Begin > 0 && (b.Begin == 0 || e.Begin < b.Begin) {
					b = e
				}
			}
			c.Close()
			rewriteHeader(t, dir, func(h string) string {
				old := `"data_offsets":[` + itoa(b.Begin) + `,` + itoa(b.End) + `]`
				repl := `"data_offsets":[` + itoa(b.Begin-2) + `,` + itoa(b.End-2) + `]`
				return strings.Replace(h, old, repl, 1)
			})
		}, []string{"model.safetensors", "overlap"}},
		{"offsets out of range", func(t *testing.T, dir string) {
			c, _ := safetensors.OpenCheckpoint(dir)
			var last safetensors.Entry
			for _, e := range c.Entries() {
				if e.End > last.End {
					last = e
				}
			}
			c.Close()
			rewriteHeader(t, dir, func(h string) string {
				old := `"data_offsets":[` + itoa(last.Begin) + `,` + itoa(last.End) + `]`
				size := last.End - last.Begin
				// Same size, shifted past the end of the data section.
				return strings.Replace(h, old, `"data_offsets":[`+itoa(last.Begin+size)+`,`+itoa(last.End+size)+`]`, 1)
			})
		}, []string{"model.safetensors", "data_offsets"}},
		{"unknown dtype", func(t *testing.T, dir string) {
			rewriteHeader(t, dir, func(h string) string { return strings.Replace(h, `"F16"`, `"F17"`, 1) })
		}, []string{"model.safetensors", `unknown dtype "F17"`}},
		{"config.json missing a field", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { delete(m, "hidden_size") })
		}, []string{"config.json", "none of the fields", "hidden_size"}},
		{"config.json missing vocab_size", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { delete(m, "vocab_size") })
		}, []string{"config.json", `field "vocab_size" missing`}},
		{"config.json field of the wrong type", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["num_hidden_layers"] = "four" })
		}, []string{"config.json", "num_hidden_layers", "not a non-negative integer"}},
		{"config.json not JSON", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o644)
		}, []string{"config.json", "not a JSON object"}},
		{"no config.json", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "config.json"))
		}, []string{"config.json"}},
		{"unsupported architecture", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["architectures"] = []string{"GPT2LMHeadModel"} })
		}, []string{"config.json", `unsupported architecture "GPT2LMHeadModel"`, "LlamaForCausalLM", "Qwen3ForCausalLM"}},
		{"mixture of experts", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["num_local_experts"] = 8 })
		}, []string{"config.json", "mixture-of-experts"}},
		{"unmappable tensor", func(t *testing.T, dir string) {
			rewriteHeader(t, dir, func(h string) string { return strings.Replace(h, "mlp.up_proj", "mlp.upp_proj", 1) })
		}, []string{"model.safetensors", "cannot map tensor", "upp_proj"}},
		{"no tensor files", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "model.safetensors"))
		}, []string{"no model*.safetensors"}},
		{"corrupt tokenizer.model", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "tokenizer.model"), []byte{0x0a, 0xff, 0xff, 0xff, 0x0f}, 0o644)
		}, []string{"tokenizer.model", "SentencePiece"}},
		{"no tokenizer", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tokenizer.model"))
		}, []string{"no tokenizer.model or tokenizer.json"}},
		{"negative special token id", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["pad_token_id"] = -1 })
		}, []string{"config.json", "special token type pad: -1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "model")
			tinyLlama.write(t, dir)
			c.break_(t, dir)
			outDir := t.TempDir()
			out := filepath.Join(outDir, "out.gguf")
			_, err := Convert(context.Background(), dir, out, Options{})
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("error does not wrap ErrBadInput: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Errorf("files left in the output folder: %v", ents)
			}
		})
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// TestBadOutput checks the output side: a missing folder, a folder in place of the file, a file
// in place of the folder; and that a cancelled conversion leaves nothing.
func TestBadOutput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	tinyLlama.write(t, dir)
	tmp := t.TempDir()
	notDir := filepath.Join(tmp, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	for _, out := range []string{filepath.Join(tmp, "missing", "out.gguf"), tmp, filepath.Join(notDir, "out.gguf")} {
		_, err := Convert(context.Background(), dir, out, Options{})
		if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "output") {
			t.Errorf("%s: got %v", out, err)
		}
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(tmp, "readonly")
		os.Mkdir(ro, 0o555)
		_, err := Convert(context.Background(), dir, filepath.Join(ro, "out.gguf"), Options{})
		if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("read-only folder: %v", err)
		}
		os.Remove(ro)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(tmp, "cancelled.gguf")
	if _, err := Convert(ctx, dir, out, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled conversion: %v", err)
	}
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 1 { // only notDir
		t.Errorf("files left: %v", ents)
	}
	// The way back refuses a file in place of the output folder.
	if _, err := ToHF(context.Background(), filepath.Join(tmp, "nope.gguf"), tmp, HFOptions{}); err == nil || !errors.Is(err, ErrBadInput) {
		t.Errorf("missing GGUF: %v", err)
	}
}
