package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/distill"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/kernels"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

func TestExitCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("stage: %s: %w", "file", err) }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, exitOK},
		{"internal", errors.New("something broke"), exitInternal},
		{"os error", wrap(os.ErrPermission), exitInternal},
		{"command's own check", badInput(errors.New("give --model")), exitUsage},
		{"cobra command", errors.New(`unknown command "nope" for "mcompress"`), exitUsage},
		{"system call", fmt.Errorf("mmap x.gguf: %w", errors.New("invalid argument")), exitInternal},
		{"convert", wrap(convert.ErrBadInput), exitUsage},
		{"quantize", wrap(quantize.ErrBadInput), exitUsage},
		{"quantize, former name", wrap(quantize.ErrInvalidInput), exitUsage},
		{"runtime", wrap(runtime.ErrBadInput), exitUsage},
		{"eval", wrap(eval.ErrBadInput), exitUsage},
		{"distill", wrap(distill.ErrBadInput), exitUsage},
		{"datasets", wrap(datasets.ErrBadInput), exitUsage},
		{"datasets sentinel", wrap(datasets.ErrCorrupt), exitUsage},
		{"GGUF format", wrap(gguf.ErrFormat), exitUsage},
		{"safetensors format", wrap(safetensors.ErrFormat), exitUsage},
		{"tokenizer metadata", wrap(tokenizer.ErrMetadata), exitUsage},
		{"gate", gateError{"ppl over the limit"}, exitGate},
		{"interrupted", wrap(context.Canceled), exitInterrupt},
		{"interrupted with a message", fmt.Errorf("distill interrupted: checkpoint written: %w", context.Canceled), exitInterrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(tc.err); got != tc.want {
				t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestArgsMessages(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"quantize"}, "mcompress quantize: expected 1 argument (the input model), got 0; see 'mcompress quantize --help'"},
		{[]string{"quantize", "a.gguf", "b.gguf"}, "mcompress quantize: expected 1 argument (the input model), got 2; see 'mcompress quantize --help'"},
		{[]string{"convert"}, "mcompress convert: expected 1 to 2 arguments"},
		{[]string{"eval", "x.gguf"}, `mcompress eval: expected no arguments, got 1: "x.gguf"; see 'mcompress eval --help'`},
		{[]string{"datasets", "inspect"}, "mcompress datasets inspect: expected 1 argument (the dataset file or folder), got 0"},
		{[]string{"datasets", "foo"}, `mcompress datasets: unknown command "foo"; see 'mcompress datasets --help'`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := evalRun(t, tc.args...)
			if code != exitUsage || !strings.HasPrefix(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
}

// randomModel writes a tiny random llama model with a placeholder byte-level vocabulary.
func randomModel(t *testing.T, dir, name string) string {
	t.Helper()
	cfg := convert.Config{Arch: "llama", HFModelType: "llama", VocabSize: 300, Hidden: 32, Layers: 1, Heads: 2,
		KVHeads: 2, HeadDim: 16, RopeDim: 16, FFN: 64, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2}
	p := filepath.Join(dir, name)
	if err := runtime.WriteRandomModel(p, runtime.RandomModelOptions{Config: cfg, Type: gguf.TypeF32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEvalExitCodes checks that eval tells its input problems (exit 2) from internal failures
// (exit 1), which it used to report as bad input too.
func TestEvalExitCodes(t *testing.T) {
	dir := t.TempDir()
	a, b := randomModel(t, dir, "a.gguf"), randomModel(t, dir, "b.gguf")
	text := filepath.Join(dir, "text.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("to be or not to be, that is the question. ", 40)), 0o644); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short.txt")
	if err := os.WriteFile(short, []byte("too short"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"eval", "-q", "-t", "1", "-c", "16", "--chunks", "2", "--no-latency"}
	tests := []struct {
		name   string
		args   []string
		tmpdir string // TMPDIR for the run ("" leaves it)
		want   int
	}{
		{"works", []string{"--model", a, "--model", b, "--data", text}, "", exitOK},
		{"missing model", []string{"--model", filepath.Join(dir, "none.gguf"), "--data", text}, "", exitUsage},
		{"text too short", []string{"--model", a, "--data", short}, "", exitUsage},
		// The KL-divergence base goes to a temporary file: an unusable TMPDIR is the system's
		// problem, not the user's input.
		{"internal", []string{"--model", a, "--model", b, "--data", text}, filepath.Join(dir, "no-such-tmp"), exitInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tmpdir != "" {
				t.Setenv("TMPDIR", tc.tmpdir)
			}
			code, _, stderr := evalRun(t, append(common, tc.args...)...)
			if code != tc.want {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.want, stderr)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	notModel := filepath.Join(dir, "x.gguf")
	if err := os.WriteFile(notModel, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"missing model", []string{"run", "-m", filepath.Join(dir, "none.gguf"), "-p", "hi"}, exitUsage},
		{"not a model", []string{"run", "-m", notModel, "-p", "hi"}, exitUsage},
		{"bad sampler", []string{"run", "-m", notModel, "-p", "hi", "--top-p", "2"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, stderr := evalRun(t, tc.args...); code != tc.want {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.want, stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := evalRun(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, want := range []string{"mcompress ", "module:", "commit:", "go:      go1.", "kernels: " + kernels.SIMD()} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, stdout)
			}
		}
	}
	code, stdout, _ := evalRun(t, "version", "--json")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil || v.Go == "" || v.Kernels == "" || v.Module == "" {
		t.Errorf("version --json: exit %d, %q", code, stdout)
	}
}

// TestOutputCheckedFirst checks that commands refuse an output they cannot write before doing
// any work, with exit code 2 (they used to compute, then fail on the write with exit 1).
func TestOutputCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	model := randomModel(t, dir, "a.gguf")
	text := filepath.Join(dir, "text.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("to be or not to be, that is the question. ", 40)), 0o644); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(dir, "file")
	if err := os.WriteFile(aFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing", "out.gguf")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"quantize into a folder", []string{"quantize", "--type", "Q8_0", model, "-o", dir}, "is a folder"},
		{"quantize into a missing folder", []string{"quantize", "--type", "Q8_0", model, "-o", missing}, "does not exist"},
		{"imatrix into a missing folder", []string{"imatrix", "-m", model, "-f", text, "-c", "16", "-o", missing}, "does not exist"},
		{"eval report below a file", []string{"eval", "--model", model, "--data", text, "-c", "16", "--no-latency", "--report", filepath.Join(aFile, "report")}, "is a file"},
		{"eval KLD base into a folder", []string{"eval", "--model", model, "--data", text, "-c", "16", "--no-latency", "--save-kld-base", dir}, "is a folder"},
		{"convert to safetensors below a file", []string{"convert", model, "--to", "safetensors", filepath.Join(aFile, "hf")}, "is a file"},
		{"perplexity KLD base into a missing folder", []string{"perplexity", "-m", model, "-f", text, "-c", "16", "--kl-divergence-base", missing}, "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := evalRun(t, append([]string{"-q"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.want)
			}
			if stdout != "" {
				t.Errorf("work was done before the output was checked: %q", stdout)
			}
		})
	}
}

// TestConvertToHFFailureLeavesNoFolder checks that a failed GGUF-to-safetensors conversion
// (here: a quantized input) leaves no empty output folder behind, as it leaves no files.
func TestConvertToHFFailureLeavesNoFolder(t *testing.T) {
	dir := t.TempDir()
	cfg := convert.Config{Arch: "llama", HFModelType: "llama", VocabSize: 300, Hidden: 32, Layers: 1, Heads: 2,
		KVHeads: 2, HeadDim: 16, RopeDim: 16, FFN: 64, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2}
	q8 := filepath.Join(dir, "q8.gguf")
	if err := runtime.WriteRandomModel(q8, runtime.RandomModelOptions{Config: cfg, Type: gguf.TypeQ8_0, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, out, gone, kept string
	}{
		{"new folder", filepath.Join(dir, "hf"), filepath.Join(dir, "hf"), dir},
		{"new folders", filepath.Join(dir, "a", "b", "hf"), filepath.Join(dir, "a"), dir},
		{"existing folder", existing, "", existing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := evalRun(t, "-q", "convert", q8, "--to", "safetensors", tc.out)
			if code != exitUsage || !strings.Contains(stderr, "only F32, F16 and BF16") {
				t.Fatalf("exit %d, stderr %q; want 2 and a message about the quantized input", code, stderr)
			}
			if tc.gone != "" {
				if _, err := os.Stat(tc.gone); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left behind (%v)", tc.gone, err)
				}
			}
			if _, err := os.Stat(tc.kept); err != nil {
				t.Errorf("%s removed: %v", tc.kept, err)
			}
		})
	}
}

func TestFlagErrorsAreBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"run", "-m", "x.gguf", "-n", "many"},
		{"quantize", "--nope", "x.gguf"},
		{"eval", "--model"},
		{"nope"},
		{"run", "-p", "hi"}, // required --model
	} {
		if code, _, stderr := evalRun(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %q", args, code, exitUsage, stderr)
		}
	}
}
