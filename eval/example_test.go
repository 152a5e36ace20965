package eval_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/runtime"
)

// Perplexity of one model with llama.cpp's chunking.
func ExamplePerplexity() {
	m, err := runtime.Load("model-q4_k_m.gguf", runtime.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	text, err := eval.ReadText("wiki.test.raw", datasets.Options{})
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := eval.Tokenize(m, text)
	if err != nil {
		log.Fatal(err)
	}
	r, err := eval.Perplexity(context.Background(), m, tokens, eval.PerplexityOptions{Context: 512})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("PPL = %.4f +/- %.5f\n", r.PPL, r.Uncertainty)
}

// Comparing variants and writing the report, failing CI when a gate fails.
func ExampleRun() {
	r, err := eval.Run(context.Background(), eval.Options{
		Models:  []string{"model-f16.gguf", "model-q4_k_m.gguf", "model-q3_k_m.gguf"},
		Data:    "valid.txt",
		Context: 512,
		Tasks:   []string{"hellaswag_val.jsonl"},
		Gates:   eval.Gates{MaxPPLIncrease: 0.05, MaxKLD: 0.05},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := eval.WriteReport("out", r); err != nil {
		log.Fatal(err)
	}
	if err := r.GateError(); err != nil {
		log.Fatal(err)
	}
}

// KL-divergence against a base saved once in llama.cpp's format.
func ExampleKLDivergence() {
	ctx := context.Background()
	base, err := runtime.Load("model-f16.gguf", runtime.Options{})
	if err != nil {
		log.Fatal(err)
	}
	text, _ := eval.ReadText("valid.txt", datasets.Options{})
	tokens, _ := eval.Tokenize(base, text)
	if _, err := eval.WriteKLBase(ctx, base, tokens, "f16.kld", eval.PerplexityOptions{Context: 512}); err != nil {
		log.Fatal(err)
	}
	base.Close()

	kb, err := eval.OpenKLBase("f16.kld")
	if err != nil {
		log.Fatal(err)
	}
	defer kb.Close()
	m, err := runtime.Load("model-q4_k_m.gguf", runtime.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	k, err := eval.KLDivergence(ctx, m, kb, eval.KLDOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("mean KLD %.6f, same top p %.3f%%\n", k.MeanKLD, 100*k.SameTopP)
}

// An importance matrix for quantization, in llama-imatrix's GGUF format.
func ExampleComputeImatrix() {
	text, err := eval.ReadText("calibration.txt", datasets.Options{})
	if err != nil {
		log.Fatal(err)
	}
	c, _, err := eval.ComputeImatrix(context.Background(), "model-f16.gguf", text, 0, false, eval.ImatrixOptions{Context: 512})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.WriteGGUF("imatrix.gguf", []string{"calibration.txt"}); err != nil {
		log.Fatal(err)
	}
}
