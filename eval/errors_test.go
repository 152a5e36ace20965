package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/runtime"
)

// smallModel writes a random llama model with a 300-token placeholder vocabulary.
func smallModel(t *testing.T, dir string) string {
	t.Helper()
	cfg := convert.Config{Arch: "llama", HFModelType: "llama", VocabSize: 300, Hidden: 32, Layers: 1, Heads: 2,
		KVHeads: 2, HeadDim: 16, RopeDim: 16, FFN: 64, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2}
	p := filepath.Join(dir, "m.gguf")
	if err := runtime.WriteRandomModel(p, runtime.RandomModelOptions{Config: cfg, Type: gguf.TypeF32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestErrBadInput checks that eval's input problems wrap ErrBadInput, and that other failures
// (here a cancelled context) do not.
func TestErrBadInput(t *testing.T) {
	dir := t.TempDir()
	model := smallModel(t, dir)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := write("short.txt", "a few words")
	long := write("long.txt", strings.Repeat("the quick brown fox jumps over the lazy dog. ", 200))
	notModel := write("x.gguf", "this is not a model")
	badTask := write("task.jsonl", "{\"question\": \"q\"}\n")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		o    Options
		ctx  context.Context
		bad  bool
	}{
		{"no models", Options{Data: long}, nil, true},
		{"nothing to measure", Options{Models: []string{model}}, nil, true},
		{"KLD gate without data", Options{Models: []string{model}, Tasks: []string{badTask}, Gates: Gates{MaxKLD: 1}}, nil, true},
		{"missing model", Options{Models: []string{filepath.Join(dir, "none.gguf")}, Data: long}, nil, true},
		{"not a model", Options{Models: []string{notModel}, Data: long}, nil, true},
		{"missing data", Options{Models: []string{model}, Data: filepath.Join(dir, "none.txt")}, nil, true},
		{"text too short", Options{Models: []string{model}, Data: short, Context: 16, SkipLatency: true}, nil, true},
		{"bad task", Options{Models: []string{model}, Tasks: []string{badTask}}, nil, true},
		{"bad stride", Options{Models: []string{model}, Data: long, Context: 16, Stride: 16, SkipLatency: true}, nil, true},
		{"cancelled", Options{Models: []string{model}, Data: long, Context: 16, SkipLatency: true}, cancelled, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			tc.o.Threads = 1
			_, err := Run(ctx, tc.o)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrBadInput); got != tc.bad {
				t.Errorf("errors.Is(%v, ErrBadInput) = %v, want %v", err, got, tc.bad)
			}
		})
	}
	if _, err := ParseTaskLayout("mmlu"); !errors.Is(err, ErrBadInput) {
		t.Errorf("ParseTaskLayout: %v does not wrap ErrBadInput", err)
	}
	if _, err := OpenKLBase(short); !errors.Is(err, ErrBadInput) {
		t.Errorf("OpenKLBase: %v does not wrap ErrBadInput", err)
	}
	if _, err := ReadText(filepath.Join(dir, "none.txt"), datasets.Options{}); !errors.Is(err, ErrBadInput) {
		t.Errorf("ReadText: %v does not wrap ErrBadInput", err)
	}
}
