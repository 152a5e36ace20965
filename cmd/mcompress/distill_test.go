package main

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/distill"
	"github.com/mcompress/mcompress/runtime"
)

// distillFixture returns the shakespeare-llama fixture folder, skipping when ../shared is
// absent.
func distillFixture(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	s := filepath.Join(dir, "..", "shared", "fixtures", "shakespeare-llama")
	if _, err := os.Stat(s); err != nil {
		t.Skipf("../shared (reference fixtures) not present: %v", err)
	}
	return s
}

// distillRun runs the CLI with args and returns its exit code, stdout and stderr.
func distillRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	oldOut, oldErr := os.Stdout, os.Stderr
	ro, wo, _ := os.Pipe()
	re, we, _ := os.Pipe()
	os.Stdout, os.Stderr = wo, we
	outc, errc := make(chan string), make(chan string)
	go func() { b, _ := io.ReadAll(ro); outc <- string(b) }()
	go func() { b, _ := io.ReadAll(re); errc <- string(b) }()
	code := run(args)
	wo.Close()
	we.Close()
	os.Stdout, os.Stderr = oldOut, oldErr
	return code, <-outc, <-errc
}

// TestDistillCommandBadInput: user mistakes exit with code 2, a message naming the problem and
// no output folder.
func TestDistillCommandBadInput(t *testing.T) {
	f := distillFixture(t)
	tmp := t.TempDir()
	short := filepath.Join(tmp, "short.txt")
	os.WriteFile(short, []byte("Friends, Romans, countrymen."), 0o644)
	badCfg := filepath.Join(tmp, "cfg.json")
	os.WriteFile(badCfg, []byte(`{"num_attention_heads": 5, "hidden_size": 128}`), 0o644)
	teacher := filepath.Join(f, "gguf", "teacher-F32.gguf")
	other := filepath.Join(tmp, "other.gguf") // a model of another vocabulary (96 tokens)
	cfg := convert.Config{Arch: "llama", VocabSize: 96, Hidden: 32, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 16, FFN: 48,
		ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 16, BOS: -1, EOS: -1}
	if err := runtime.WriteRandomModel(other, runtime.RandomModelOptions{Config: cfg, Type: gguf.TypeF32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(tmp, "file")
	os.WriteFile(aFile, nil, 0o644)
	student := []string{"--layers", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1", "--ffn", "64", "--seq-len", "32", "--steps", "1"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"missing teacher", []string{"distill", "--teacher", filepath.Join(tmp, "none.gguf"), "--data", short}, "none.gguf"},
		{"no teacher flag", []string{"distill", "--data", short}, "--teacher"},
		{"mismatched vocabulary", []string{"distill", "--teacher", teacher, "--student", other, "--data", short}, "share a tokenizer"},
		{"unknown flag", []string{"distill", "--teacher", teacher, "--vocab-check"}, "unknown flag"},
		{"config cannot be built", []string{"distill", "--teacher", teacher, "--data", short, "--student-config", badCfg}, "cannot be built"},
		{"dataset shorter than one sequence", append([]string{"distill", "--teacher", teacher, "--data", short}, student...), "fewer tokens"},
		{"unwritable output", append([]string{"distill", "--teacher", teacher, "--data", filepath.Join(f, "valid.txt")}, student...), "is not a folder"},
		{"bad schedule", []string{"train", "--tokenizer", teacher, "--data", short, "--schedule", "sawtooth"}, "sawtooth"},
		{"train without tokenizer", []string{"train", "--data", short}, "--tokenizer"},
		{"bad token budget", []string{"train", "--tokenizer", teacher, "--data", short, "--tokens", "lots"}, "lots"},
		{"cache without teacher", []string{"distill", "cache", "--data", short, "-o", filepath.Join(tmp, "c.topk")}, "--teacher"},
		{"student of another vocabulary", []string{"distill", "--teacher", teacher, "--student", filepath.Join(tmp, "none-student"), "--data", short}, "none-student"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(tmp, "out")
			if c.name == "unwritable output" {
				out = filepath.Join(aFile, "run")
			}
			args := append(append([]string{}, c.args...), "-o", out)
			code, _, stderr := distillRun(t, args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not mention %q", stderr, c.want)
			}
			if _, err := os.Stat(filepath.Join(tmp, "out")); err == nil {
				t.Errorf("output folder created")
				os.RemoveAll(filepath.Join(tmp, "out"))
			}
		})
	}
}

// TestTrainCommand trains a tiny model for two steps through the CLI and checks the JSON
// result and the files.
func TestTrainCommand(t *testing.T) {
	f := distillFixture(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data.txt")
	b, err := os.ReadFile(filepath.Join(f, "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(data, b[:8000], 0o644)
	out := filepath.Join(tmp, "run")
	code, stdout, stderr := distillRun(t, "train", "--json", "--tokenizer", filepath.Join(f, "gguf", "teacher-F32.gguf"),
		"--layers", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1", "--ffn", "64", "--seq-len", "32", "--batch", "2",
		"--steps", "2", "--valid-fraction", "0.2", "--data", data, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res distill.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if res.Steps != 2 || res.Valid == nil || res.Params == 0 {
		t.Errorf("result %+v", res)
	}
	for _, p := range []string{"model.gguf", "hf/config.json", "hf/model.safetensors", "hf/tokenizer.model", "train.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Error(err)
		}
	}
	// Running again into the same folder without --resume is refused.
	code, _, stderr = distillRun(t, "train", "--tokenizer", filepath.Join(f, "gguf", "teacher-F32.gguf"), "--layers", "1",
		"--hidden", "32", "--heads", "2", "--kv-heads", "1", "--ffn", "64", "--seq-len", "32", "--steps", "2", "--data", data, "-o", out)
	if code != exitUsage || !strings.Contains(stderr, "--resume") {
		t.Errorf("rerun over a finished run: exit %d, %s", code, stderr)
	}
}

// TestTrainFlagsOptions checks that the training flags bind into distill.DefaultOptions and
// keep their documented meanings without sentinel values.
func TestTrainFlagsOptions(t *testing.T) {
	def := distill.DefaultOptions()
	tests := []struct {
		args            []string
		minLR, clip, lr float64
		seqLen          int
	}{
		{nil, def.Optim.LR / 10, 1, def.Optim.LR, 0},
		{[]string{"--lr", "3e-3"}, 3e-4, 1, 3e-3, 0},
		{[]string{"--lr", "3e-3", "--min-lr", "0"}, 0, 1, 3e-3, 0},
		{[]string{"--min-lr", "5e-5", "--clip", "0"}, 5e-5, 0, def.Optim.LR, 0},
		{[]string{"--clip", "-1", "--seq-len", "256"}, def.Optim.LR / 10, 0, def.Optim.LR, 256},
	}
	for _, tc := range tests {
		var tf trainFlags
		fs := pflag.NewFlagSet("train", pflag.ContinueOnError)
		tf.add(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		o, err := tf.options(fs)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if math.Abs(o.MinLR-tc.minLR) > 1e-15 || o.ClipNorm != tc.clip || o.Optim.LR != tc.lr || o.SeqLen != tc.seqLen {
			t.Errorf("%v: min-lr %g clip %g lr %g seq %d; want %g %g %g %d", tc.args, o.MinLR, o.ClipNorm, o.Optim.LR, o.SeqLen, tc.minLR, tc.clip, tc.lr, tc.seqLen)
		}
		if o.Batch != def.Batch || o.KeepCheckpoints != def.KeepCheckpoints || o.Student.InitStd != def.Student.InitStd {
			t.Errorf("%v: batch %d, keep %d, init-std %g differ from DefaultOptions", tc.args, o.Batch, o.KeepCheckpoints, o.Student.InitStd)
		}
	}
}
