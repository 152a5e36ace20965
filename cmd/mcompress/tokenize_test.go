package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// tokRun runs the CLI with args and returns its exit code, stdout and stderr.
func tokRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	oldIn, oldOut, oldErr := os.Stdin, os.Stdout, os.Stderr
	ri, wi, _ := os.Pipe()
	ro, wo, _ := os.Pipe()
	re, we, _ := os.Pipe()
	os.Stdin, os.Stdout, os.Stderr = ri, wo, we
	go func() { io.WriteString(wi, stdin); wi.Close() }()
	outc, errc := make(chan string), make(chan string)
	go func() { b, _ := io.ReadAll(ro); outc <- string(b) }()
	go func() { b, _ := io.ReadAll(re); errc <- string(b) }()
	code := run(args)
	wo.Close()
	we.Close()
	os.Stdin, os.Stdout, os.Stderr = oldIn, oldOut, oldErr
	ri.Close()
	return code, <-outc, <-errc
}

// tokVocab writes a tiny byte-level BPE vocabulary: "hi" is 6, " there" 11, <|endoftext|> 12.
func tokVocab(t *testing.T, md gguf.Metadata) string {
	t.Helper()
	if md == nil {
		strs := func(s ...string) gguf.Array { return gguf.Array{Type: gguf.ValueString, Values: s} }
		md = gguf.Metadata{
			{Key: "general.architecture", Value: "llama"},
			{Key: "tokenizer.ggml.model", Value: "gpt2"},
			{Key: "tokenizer.ggml.pre", Value: "llama-bpe"},
			{Key: "tokenizer.ggml.tokens", Value: strs("h", "i", "Ġ", "t", "e", "r", "hi", "Ġt", "he", "Ġthe", "re", "Ġthere", "<|endoftext|>", "Ċ")},
			{Key: "tokenizer.ggml.token_type", Value: gguf.Array{Type: gguf.ValueInt32, Values: []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1}}},
			{Key: "tokenizer.ggml.merges", Value: strs("h i", "Ġ t", "h e", "Ġt he", "r e", "Ġthe re")},
			{Key: "tokenizer.ggml.bos_token_id", Value: uint32(12)},
			{Key: "tokenizer.ggml.eos_token_id", Value: uint32(12)},
		}
	}
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := gguf.NewWriter(f, md, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

func TestTokenizeCommand(t *testing.T) {
	vocab := tokVocab(t, nil)
	text := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(text, []byte("hi there\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		// llama-bpe vocabularies add BOS.
		{"pieces", "", []string{"-p", "hi there"}, "    12 -> '<|endoftext|>'\n     6 -> 'hi'\n    11 -> ' there'\n"},
		{"ids", "", []string{"-p", "hi there", "--ids"}, "[12, 6, 11]\n"},
		{"no bos", "", []string{"-p", "hi there", "--ids", "--no-bos"}, "[6, 11]\n"},
		// Without --parse-special the control token is text; this vocabulary only has its e and t.
		{"special as text", "", []string{"-p", "hi<|endoftext|>", "--ids", "--no-bos"}, "[6, 4, 3, 4, 3]\n"},
		{"parse special", "", []string{"-p", "hi<|endoftext|>", "--ids", "--no-bos", "--parse-special"}, "[6, 12]\n"},
		{"file", "", []string{"-f", text, "--ids", "--no-bos", "--show-count"}, "[6, 11, 13]\nTotal number of tokens: 3\n"},
		{"stdin", "hi", []string{"--stdin", "--ids", "--no-bos"}, "[6]\n"},
		{"escape", "", []string{"-p", `hi\n`, "-e", "--ids", "--no-bos"}, "[6, 13]\n"},
		{"no escape", "", []string{"-p", `hi\n`, "--ids", "--no-bos"}, "[6]\n"},
		{"empty", "", []string{"-p", "", "--ids", "--no-bos"}, "[]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := tokRun(t, tc.stdin, append([]string{"tokenize", "-m", vocab}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if out != tc.want {
				t.Fatalf("stdout %q, want %q", out, tc.want)
			}
		})
	}

	code, out, errOut := tokRun(t, "", "tokenize", "-m", vocab, "-p", "hi there<|endoftext|>", "--parse-special", "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	var res tokenizeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if res.Count != 4 || res.Kind != "BPE" || res.Pre != "llama-bpe" || !res.AddBOS ||
		strings.Join(res.Pieces, "|") != "<|endoftext|>|hi| there|<|endoftext|>" || res.IDs[3] != 12 {
		t.Fatalf("--json result %+v", res)
	}
	if !strings.Contains(out, `"<|endoftext|>"`) {
		t.Errorf("special token text escaped in JSON: %s", out)
	}
}

func TestTokenizeCommandErrors(t *testing.T) {
	vocab := tokVocab(t, nil)
	bad := tokVocab(t, gguf.Metadata{{Key: "tokenizer.ggml.model", Value: "gpt2"}})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"-p", "x"}, "give the model"},
		{"no text", []string{"-m", vocab}, "exactly one of"},
		{"two texts", []string{"-m", vocab, "-p", "x", "--stdin"}, "exactly one of"},
		{"missing model file", []string{"-m", vocab + ".missing", "-p", "x"}, "no such file"},
		{"missing text file", []string{"-m", vocab, "-f", vocab + ".txt"}, "no such file"},
		{"no tokens", []string{"-m", bad, "-p", "x"}, "missing tokenizer.ggml.tokens"},
		{"unknown flag", []string{"-m", vocab, "-p", "x", "--bogus"}, "unknown flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := tokRun(t, "", append([]string{"tokenize"}, tc.args...)...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, exitUsage, tc.want)
			}
		})
	}
}

func TestProcessEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`a\nb\tc\rd`:   "a\nb\tc\rd",
		`q\'\"\\`:      `q'"\`,
		`\x41\x4`:      `A\x4`,
		`\q \`:         `\q \`,
		`no escapes`:   `no escapes`,
		`\x4g\x41\x41`: `\x4gAA`,
	} {
		if got := processEscapes(in); got != want {
			t.Errorf("processEscapes(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTokenizeCommandFixture checks the command against llama.cpp's own llama-spm vocabulary:
// "Hello world" is <s> ▁Hello ▁world.
func TestTokenizeCommandFixture(t *testing.T) {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if parent := filepath.Dir(dir); parent != dir {
			dir = parent
			continue
		}
		t.Skip("repository root not found")
	}
	vocab := filepath.Join(dir, "..", "shared", "fixtures", "tokenizers", "ggml-vocab-llama-spm.gguf")
	if _, err := os.Stat(vocab); err != nil {
		t.Skipf("../shared fixtures not present: %v", err)
	}
	code, out, errOut := tokRun(t, "", "tokenize", "-m", vocab, "-p", "Hello world")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := "     1 -> '<s>'\n 15043 -> ' Hello'\n  3186 -> ' world'\n"; out != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
}
