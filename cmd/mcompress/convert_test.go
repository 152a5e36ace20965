package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcompress/mcompress/convert/safetensors"
)

// convSharedDir returns ../shared beside the repository, skipping the test when it is absent.
func convSharedDir(t *testing.T) string {
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
	s := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(s); err != nil {
		t.Skipf("../shared (reference fixtures) not present: %v", err)
	}
	return s
}

// convRun runs the CLI with args and returns its exit code, stdout and stderr.
func convRun(t *testing.T, args ...string) (int, string, string) {
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

func TestConvertCommand(t *testing.T) {
	fx := filepath.Join(convSharedDir(t), "fixtures", "shakespeare-llama")
	tmp := t.TempDir()
	out := filepath.Join(tmp, "teacher.gguf")
	code, stdout, stderr := convRun(t, "convert", filepath.Join(fx, "hf"), "-o", out, "--outtype", "f16", "--name", "Teacher Hf", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile(filepath.Join(fx, "gguf", "teacher-F16.gguf"))
	if !bytes.Equal(got, want) {
		t.Error("CLI output differs from llama.cpp's teacher-F16.gguf")
	}
	if !strings.Contains(stdout, "39 tensors") || stderr != "" {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	// --json prints the result; the way back and forth through safetensors is byte-identical.
	hf := filepath.Join(tmp, "hf-out")
	code, stdout, stderr = convRun(t, "convert", out, "--to", "safetensors", hf, "--json")
	if code != 0 {
		t.Fatalf("to safetensors: exit %d: %s", code, stderr)
	}
	var res struct {
		OutType string   `json:"outtype"`
		Files   []string `json:"files"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.OutType != "f16" {
		t.Fatalf("json %q: %v", stdout, err)
	}
	back := filepath.Join(tmp, "back.gguf")
	if code, _, stderr = convRun(t, "convert", hf, "-o", back, "--outtype", res.OutType, "-q"); code != 0 {
		t.Fatalf("back: exit %d: %s", code, stderr)
	}
	if again, _ := os.ReadFile(back); !bytes.Equal(again, got) {
		t.Error("GGUF -> safetensors -> GGUF is not byte-identical")
	}
}

// TestConvertCommandErrors checks exit code 2, a message naming the problem and no output file
// for bad input and bad flags.
func TestConvertCommandErrors(t *testing.T) {
	fx := filepath.Join(convSharedDir(t), "fixtures", "shakespeare-llama")
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad")
	os.Mkdir(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"architectures":["BertModel"],"hidden_size":8}`), 0o644)
	trunc := filepath.Join(tmp, "trunc")
	os.Mkdir(trunc, 0o755)
	for _, n := range []string{"config.json", "tokenizer.model", "tokenizer_config.json"} {
		b, _ := os.ReadFile(filepath.Join(fx, "hf", n))
		os.WriteFile(filepath.Join(trunc, n), b, 0o644)
	}
	st, _ := os.ReadFile(filepath.Join(fx, "hf", "model.safetensors"))
	os.WriteFile(filepath.Join(trunc, "model.safetensors"), st[:len(st)/2], 0o644)
	outDir := filepath.Join(tmp, "out")
	os.Mkdir(outDir, 0o755)
	out := filepath.Join(outDir, "x.gguf")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"convert", bad, "-o", out}, `unsupported architecture "BertModel"`},
		{[]string{"convert", trunc, "-o", out}, "past end of file"},
		{[]string{"convert", filepath.Join(fx, "hf"), "-o", filepath.Join(tmp, "missing", "x.gguf")}, "output folder"},
		{[]string{"convert", filepath.Join(fx, "hf"), "-o", out, "--outtype", "q4"}, "unknown output type"},
		{[]string{"convert", filepath.Join(fx, "hf")}, "missing -o"},
		{[]string{"convert", filepath.Join(fx, "gguf", "teacher-Q4_0.gguf"), "--to", "safetensors", filepath.Join(tmp, "q")}, "only F32, F16 and BF16"},
		{[]string{"convert", filepath.Join(tmp, "nope"), "-o", out}, "config.json"},
		{[]string{"inspect", filepath.Join(trunc, "model.safetensors")}, "past end of file"},
		{[]string{"convert", filepath.Join(fx, "gguf", "teacher-F16.gguf"), "-o", out}, "use --to safetensors"},
	}
	for _, c := range cases {
		code, _, stderr := convRun(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q (want 2 and %q)", c.args, code, stderr, c.want)
		}
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}

func TestInspectCommand(t *testing.T) {
	fx := filepath.Join(convSharedDir(t), "fixtures", "shakespeare-llama")
	code, stdout, stderr := convRun(t, "inspect", filepath.Join(fx, "gguf", "teacher-F16.gguf"))
	if code != 0 || !strings.Contains(stdout, "tokenizer.ggml.tokens") || !strings.Contains(stdout, "(2048 total)") ||
		!strings.Contains(stdout, "blk.0.attn_q.weight") || !strings.Contains(stdout, "[256, 256]") {
		t.Fatalf("exit %d, %s %s", code, stdout, stderr)
	}
	for _, p := range []string{filepath.Join(fx, "hf"), filepath.Join(fx, "hf", "model.safetensors"), filepath.Join(fx, "gguf", "teacher-Q4_K_M.gguf")} {
		code, stdout, stderr := convRun(t, "inspect", p, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", p, code, stderr)
		}
		var r struct {
			Format  string
			Tensors []struct {
				Name  string
				Type  string
				Shape []int64
				Bytes int64
			}
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || len(r.Tensors) != 39 {
			t.Errorf("%s: %v, %d tensors", p, err, len(r.Tensors))
		}
	}
}

// TestConvertInterrupt sends SIGINT in the middle of a conversion: the command must stop with
// exit code 130 and leave no file, temporary or final.
func TestConvertInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 200 MB checkpoint")
	}
	fx := filepath.Join(convSharedDir(t), "fixtures", "shakespeare-llama")
	dir := filepath.Join(t.TempDir(), "big")
	os.Mkdir(dir, 0o755)
	const hidden, ffn, layers, vocab = 1024, 2816, 8, 2048
	cfg := fmt.Sprintf(`{"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":%d,"hidden_size":%d,
"intermediate_size":%d,"num_hidden_layers":%d,"num_attention_heads":16,"num_key_value_heads":16,"rms_norm_eps":1e-5}`, vocab, hidden, ffn, layers)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
	for _, n := range []string{"tokenizer.model", "tokenizer_config.json"} {
		b, _ := os.ReadFile(filepath.Join(fx, "hf", n))
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	var infos []safetensors.TensorInfo
	add := func(name string, shape ...int64) {
		infos = append(infos, safetensors.TensorInfo{Name: name, DType: safetensors.BF16, Shape: shape})
	}
	add("lm_head.weight", vocab, hidden)
	add("model.embed_tokens.weight", vocab, hidden)
	add("model.norm.weight", hidden)
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", hidden)
		add(p+"mlp.down_proj.weight", hidden, ffn)
		add(p+"mlp.gate_proj.weight", ffn, hidden)
		add(p+"mlp.up_proj.weight", ffn, hidden)
		add(p+"post_attention_layernorm.weight", hidden)
		add(p+"self_attn.k_proj.weight", hidden, hidden)
		add(p+"self_attn.o_proj.weight", hidden, hidden)
		add(p+"self_attn.q_proj.weight", hidden, hidden)
		add(p+"self_attn.v_proj.weight", hidden, hidden)
	}
	err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), nil, infos, func(w *safetensors.Writer) error {
		for _, ti := range infos {
			n := int64(2)
			for _, d := range ti.Shape {
				n *= d
			}
			if err := w.WriteTensor(ti.Name, make([]byte, n)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Keep SIGINT from killing the test binary whatever the timing: while a channel is
	// registered the default action is off.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	outDir := t.TempDir()
	done := make(chan int)
	go func() {
		code, _, _ := convRun(t, "convert", dir, "-o", filepath.Join(outDir, "big.gguf"), "--outtype", "f32", "-q")
		done <- code
	}()
	for {
		ents, _ := os.ReadDir(outDir)
		if len(ents) > 0 {
			break // the temporary output exists: the conversion is under way
		}
		select {
		case code := <-done:
			t.Fatalf("finished (exit %d) before it could be interrupted", code)
		case <-time.After(time.Millisecond):
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	if code := <-done; code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("files left after Ctrl-C: %v", ents)
	}
}
