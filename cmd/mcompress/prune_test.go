package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/prune"
	"github.com/mcompress/mcompress/runtime"
)

// pruneTiny writes a random small llama model (hidden 128, 3 blocks, 4 heads of 32, 2 KV
// heads, FFN 256, a placeholder byte-level vocabulary of 512) of type typ and a calibration
// text, and returns their paths.
func pruneTiny(t *testing.T, typ gguf.TensorType) (model, text string) {
	t.Helper()
	cfg, err := runtime.RandomConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hidden, cfg.Layers, cfg.Heads, cfg.KVHeads, cfg.HeadDim, cfg.RopeDim, cfg.FFN, cfg.VocabSize = 128, 3, 4, 2, 32, 32, 256, 512
	return pruneModelAndText(t, cfg, typ)
}

// pruneModelAndText writes a random model of cfg and type typ and a calibration text.
func pruneModelAndText(t *testing.T, cfg convert.Config, typ gguf.TensorType) (model, text string) {
	t.Helper()
	dir := t.TempDir()
	model = filepath.Join(dir, "tiny-"+typ.String()+".gguf")
	if err := runtime.WriteRandomModel(model, runtime.RandomModelOptions{Config: cfg, Type: typ, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i := range 400 {
		fmt.Fprintf(&sb, "Line %d: the quick brown fox jumps over the lazy dog, %d times.\n", i, i*7%13)
	}
	text = filepath.Join(dir, "calib.txt")
	if err := os.WriteFile(text, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return model, text
}

// checkBlockMatrices checks every block matrix of the model at path for the sparsity and
// pattern.
func checkBlockMatrices(t *testing.T, path string, sparsity float64, pat prune.Pattern) {
	t.Helper()
	fm, err := prune.LoadFloat(path)
	if err != nil {
		t.Fatal(err)
	}
	for b := range fm.Config.Layers {
		for _, s := range prune.BlockMatrices {
			name := fmt.Sprintf("blk.%d.%s.weight", b, s)
			w, err := fm.Matrix(name)
			if err != nil {
				t.Fatal(err)
			}
			zeros := 0
			for _, v := range w.Data {
				if v == 0 {
					zeros++
				}
			}
			if got := float64(zeros) / float64(len(w.Data)); math.Abs(got-sparsity) > 0.01 {
				t.Errorf("%s: sparsity %.3f, want %.2f", name, got, sparsity)
			}
			if err := prune.CheckPattern(w, pat); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// TestPruneCommandEndToEnd prunes a tiny model (hidden 256, so that Q4_K applies) 2:4 with
// Wanda, then quantizes it to Q4_K_M and measures its perplexity, all through the CLI.
func TestPruneCommandEndToEnd(t *testing.T) {
	cfg, err := runtime.RandomConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	model, text := pruneModelAndText(t, cfg, gguf.TypeF16)
	dir := t.TempDir()
	out := filepath.Join(dir, "sparse.gguf")
	code, stdout, stderr := runCLI(t, "prune", model, "--method", "wanda", "--pattern", "2:4", "--calib", text,
		"--calib-samples", "4", "--calib-len", "64", "-o", out, "--json")
	if code != 0 {
		t.Fatalf("prune: exit %d\n%s", code, stderr)
	}
	var sum pruneSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout)
	}
	if sum.Unstructured == nil || len(sum.Unstructured.Tensors) != 28 || sum.LossBefore == nil || sum.LossAfter == nil ||
		sum.Calibration == nil || sum.Calibration.Sequences != 4 || sum.ZerosAfter == 0 {
		t.Errorf("summary incomplete: %+v", sum)
	}
	for _, tr := range sum.Unstructured.Tensors {
		if tr.Sparsity != 0.5 {
			t.Errorf("%s: reported sparsity %g", tr.Name, tr.Sparsity)
		}
	}
	checkBlockMatrices(t, out, 0.5, prune.Pattern{N: 2, M: 4})

	q := filepath.Join(dir, "sparse-q4_k_m.gguf")
	if code, _, stderr := runCLI(t, "quantize", "-q", out, "-o", q, "--type", "Q4_K_M"); code != 0 {
		t.Fatalf("quantize: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = runCLI(t, "perplexity", "-q", "-m", q, "-f", text, "-c", "64", "--chunks", "2")
	if code != 0 || !strings.Contains(stdout, "Final estimate: PPL = ") {
		t.Fatalf("perplexity: exit %d\n%s\n%s", code, stdout, stderr)
	}
	ppl, err := strconv.ParseFloat(strings.Fields(stdout[strings.Index(stdout, "PPL = ")+6:])[0], 64)
	if err != nil || math.IsNaN(ppl) || ppl <= 1 {
		t.Errorf("perplexity %q", stdout)
	}
}

func TestPruneCommandOutputs(t *testing.T) {
	model, text := pruneTiny(t, gguf.TypeF32)
	dir := t.TempDir()

	// Magnitude needs no calibration; a Hugging Face folder comes back with the same zeros.
	hf := filepath.Join(dir, "hf")
	if code, _, stderr := runCLI(t, "prune", "-q", model, "--method", "magnitude", "--sparsity", "0.5", "-o", hf, "--to", "safetensors"); code != 0 {
		t.Fatalf("prune to safetensors: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(hf, "config.json")); err != nil {
		t.Fatal(err)
	}
	checkBlockMatrices(t, hf, 0.5, prune.Pattern{})

	// Structured: fewer heads and FFN channels, a model that loads.
	st := filepath.Join(dir, "structured.gguf")
	if code, _, stderr := runCLI(t, "prune", "-q", model, "--structured", "heads=2,ffn=128", "--calib", text, "--calib-samples", "2", "--calib-len", "64", "-o", st); code != 0 {
		t.Fatalf("structured: exit %d\n%s", code, stderr)
	}
	m, err := runtime.Load(st, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Config(); c.Heads != 2 || c.FFN != 128 {
		t.Errorf("structured model has %d heads and FFN %d", c.Heads, c.FFN)
	}
	m.Close()

	// Layer dropping on a quantized file: byte copies of the kept blocks.
	q8, _ := pruneTiny(t, gguf.TypeQ8_0)
	drop := filepath.Join(dir, "drop.gguf")
	code, stdout, stderr := runCLI(t, "prune", q8, "--drop-layers", "auto:1", "--calib", text, "--calib-samples", "2", "--calib-len", "64", "-o", drop, "--json")
	if code != 0 {
		t.Fatalf("drop-layers auto: exit %d\n%s", code, stderr)
	}
	var sum pruneSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.DroppedLayers) != 1 || len(sum.Influence) != 3 {
		t.Fatalf("summary: %+v", sum)
	}
	src, err := gguf.Open(q8)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := gguf.Open(drop)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if n, _ := dst.Metadata.Uint("llama.block_count"); n != 2 {
		t.Errorf("block_count %d", n)
	}
	// An importance matrix follows the dropped blocks.
	im := filepath.Join(dir, "imatrix.gguf")
	if code, _, stderr := runCLI(t, "imatrix", "-q", "-m", model, "-f", text, "-c", "64", "--chunks", "2", "-o", im); code != 0 {
		t.Fatalf("imatrix: exit %d\n%s", code, stderr)
	}
	imOut := filepath.Join(dir, "imatrix-dropped.gguf")
	drop2 := filepath.Join(dir, "drop2.gguf")
	if code, _, stderr := runCLI(t, "prune", "-q", model, "--drop-layers", "1", "--imatrix", im, "--imatrix-out", imOut, "-o", drop2); code != 0 {
		t.Fatalf("drop-layers with imatrix: exit %d\n%s", code, stderr)
	}
	imf, err := gguf.Open(imOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range imf.Tensors {
		if strings.HasPrefix(tn.Name, "blk.2.") {
			t.Errorf("imatrix still has %s", tn.Name)
		}
	}
	imf.Close()

	kept := 0
	if sum.DroppedLayers[0] == 0 {
		kept = 1
	}
	i, _ := src.TensorIndex(fmt.Sprintf("blk.%d.ffn_down.weight", kept))
	j, _ := dst.TensorIndex("blk.0.ffn_down.weight")
	if string(src.TensorData(i)) != string(dst.TensorData(j)) {
		t.Error("kept tensor not copied byte for byte")
	}
}

func TestPruneCommandBadInput(t *testing.T) {
	model, text := pruneTiny(t, gguf.TypeF32)
	q8, _ := pruneTiny(t, gguf.TypeQ8_0)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.gguf")
	calib := []string{"--calib", text, "--calib-samples", "2", "--calib-len", "32"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no mode", []string{model, "-o", out}, "exactly one"},
		{"two modes", []string{model, "--method", "magnitude", "--sparsity", "0.5", "--drop-layers", "1", "-o", out}, "exactly one"},
		{"sparsity 1", []string{model, "--method", "magnitude", "--sparsity", "1", "-o", out}, "outside [0, 1)"},
		{"negative sparsity", []string{model, "--method", "magnitude", "--sparsity", "-0.2", "-o", out}, "outside [0, 1)"},
		{"pattern not dividing rows", []string{model, "--method", "magnitude", "--pattern", "3:7", "-o", out}, "does not divide"},
		{"unknown method", []string{model, "--method", "obc", "--sparsity", "0.5", "-o", out}, "unknown method"},
		{"wanda without data", []string{model, "--method", "wanda", "--sparsity", "0.5", "-o", out}, "--calib"},
		{"too little data", []string{model, "--method", "wanda", "--sparsity", "0.5", "-o", out, "--calib", text, "--calib-samples", "1000"}, "too little calibration data"},
		{"quantized input", append([]string{q8, "--method", "sparsegpt", "--sparsity", "0.5", "-o", out}, calib...), "float weights"},
		{"more heads than exist", append([]string{model, "--structured", "heads=8", "-o", out}, calib...), "heads"},
		{"more layers than exist", []string{model, "--drop-layers", "0,1,2", "-o", out}, "leaves none"},
		{"layer that does not exist", []string{model, "--drop-layers", "9", "-o", out}, "does not exist"},
		{"drop all by auto", append([]string{model, "--drop-layers", "auto:3", "-o", out}, calib...), "cannot drop"},
		{"schedule past the blocks", []string{model, "--method", "magnitude", "--sparsity", "0.5", "--sparsity-schedule", "7:0.5", "-o", out}, "layer 7"},
		{"unwritable output", []string{model, "--method", "magnitude", "--sparsity", "0.5", "-o", filepath.Join(dir, "no", "such", "dir", "x.gguf")}, "cannot be written"},
		{"quantized to safetensors", []string{q8, "--drop-layers", "1", "-o", filepath.Join(dir, "hf"), "--to", "safetensors"}, "only be written as GGUF"},
		{"bad --to", []string{model, "--method", "magnitude", "--sparsity", "0.5", "-o", out, "--to", "onnx"}, "--to"},
	} {
		code, _, stderr := runCLI(t, append([]string{"prune", "-q"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, %q (want exit 2 naming %q)", tc.name, code, stderr, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: output written", tc.name)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 0 {
			t.Fatalf("%s: left %v behind", tc.name, entries)
		}
	}
}

// TestPruneCommandFixture prunes the fixture teacher 2:4 with SparseGPT, quantizes it to
// Q4_K_M and evaluates it on valid.txt.
func TestPruneCommandFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("fixture prune, quantize and perplexity")
	}
	teacher := runFixtureModel(t, "F16")
	fx := filepath.Dir(filepath.Dir(teacher))
	dir := t.TempDir()
	out := filepath.Join(dir, "sparse.gguf")
	if code, _, stderr := runCLI(t, "prune", "-q", teacher, "--method", "sparsegpt", "--pattern", "2:4", "--calib", filepath.Join(fx, "train.txt"),
		"--calib-samples", "8", "--calib-len", "128", "-o", out); code != 0 {
		t.Fatalf("prune: exit %d\n%s", code, stderr)
	}
	checkBlockMatrices(t, out, 0.5, prune.Pattern{N: 2, M: 4})
	q := filepath.Join(dir, "q.gguf")
	if code, _, stderr := runCLI(t, "quantize", "-q", out, "-o", q, "--type", "Q4_K_M"); code != 0 {
		t.Fatalf("quantize: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "perplexity", "-q", "-m", q, "-f", filepath.Join(fx, "valid.txt"), "-c", "256", "--chunks", "4")
	if code != 0 || !strings.Contains(stdout, "Final estimate: PPL = ") {
		t.Fatalf("perplexity: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestPruneCommandHFInput prunes the fixture teacher's Hugging Face folder and llama.cpp's F32
// conversion of it by magnitude: the folder goes through the converter, so the two outputs
// have the same tensors, byte for byte (general.name differs: it comes from the folder's name).
func TestPruneCommandHFInput(t *testing.T) {
	teacher := runFixtureModel(t, "F32")
	hf := filepath.Join(filepath.Dir(filepath.Dir(teacher)), "hf")
	dir := t.TempDir()
	var outs [2]*gguf.File
	for i, in := range []string{hf, teacher} {
		out := filepath.Join(dir, fmt.Sprintf("out%d.gguf", i))
		if code, _, stderr := runCLI(t, "prune", "-q", in, "--method", "magnitude", "--pattern", "2:4", "-o", out); code != 0 {
			t.Fatalf("prune %s: exit %d\n%s", in, code, stderr)
		}
		f, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		outs[i] = f
	}
	a, b := outs[0], outs[1]
	if len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%d tensors against %d", len(a.Tensors), len(b.Tensors))
	}
	for i, ti := range a.Tensors {
		tb := b.Tensors[i]
		if ti.Name != tb.Name || ti.Type != tb.Type || fmt.Sprint(ti.Dims) != fmt.Sprint(tb.Dims) || string(a.TensorData(i)) != string(b.TensorData(i)) {
			t.Errorf("tensor %d: %s %s %v against %s %s %v, or different data", i, ti.Name, ti.Type, ti.Dims, tb.Name, tb.Type, tb.Dims)
		}
	}
}
