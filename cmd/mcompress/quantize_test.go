package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
)

func TestCondenseWarnings(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, 0}, {3, 3}, {4, 4}, {5, 4}, {40, 4}} {
		var ws []string
		for i := range tc.in {
			ws = append(ws, fmt.Sprint("w", i))
		}
		got := condenseWarnings(ws, 3)
		if len(got) != tc.want {
			t.Errorf("%d warnings -> %d lines, want %d", tc.in, len(got), tc.want)
		}
		if tc.in > 4 && !strings.Contains(got[3], fmt.Sprintf("%d more", tc.in-3)) {
			t.Errorf("summary line %q", got[3])
		}
	}
}

// TestQuantizeSaysWhatFileHolds checks that quantize prints the tensor types the file really
// holds: the demo's "Q4_0" student held 40% of its weights in Q8_0 (its tied 128-wide
// embedding falls back from Q6_K), which the mix name and a quiet run did not say.
func TestQuantizeSaysWhatFileHolds(t *testing.T) {
	dir := t.TempDir()
	cfg := convert.Config{Arch: "llama", HFModelType: "llama", VocabSize: 2048, Hidden: 128, Layers: 2, Heads: 4, KVHeads: 2,
		HeadDim: 32, RopeDim: 32, FFN: 384, ContextLength: 512, RMSNormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2, TiedEmbeddings: true}
	in := filepath.Join(dir, "student.gguf")
	if err := runtime.WriteRandomModel(in, runtime.RandomModelOptions{Config: cfg, Type: gguf.TypeF32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		holds   string
		notHeld string
	}{
		{"fallback", []string{"--type", "Q4_0"}, "holds Q4_0 59.9% of weights (44.0% of bytes, 14 tensors), Q8_0 40.0% (55.5%, 1), F32 0.1% (0.5%, 5)", ""},
		{"all Q4_0", []string{"--type", "Q4_0", "--output-tensor-type", "q4_0"}, "holds Q4_0 99.9% of weights", "Q8_0"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out%d.gguf", i))
			code, stdout, stderr := evalRun(t, append([]string{"-q", "quantize", in, "-o", out}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, tc.holds) || tc.notHeld != "" && strings.Contains(stdout, tc.notHeld) {
				t.Errorf("output %q; want %q and no %q", stdout, tc.holds, tc.notHeld)
			}
		})
	}
}
