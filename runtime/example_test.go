package runtime_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/runtime"
)

// Example builds a tiny model from float32 weights held in memory, evaluates a prompt as one
// batch with logits for every position, then continues the sequence token by token from the
// KV cache.
func Example() {
	cfg := convert.Config{Arch: "llama", VocabSize: 32, Hidden: 32, Layers: 1, Heads: 2, KVHeads: 1,
		HeadDim: 16, FFN: 64, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 16}
	rng := rand.New(rand.NewPCG(1, 2))
	weight := func(dims ...int) runtime.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64() * 0.2)
			if len(dims) == 1 {
				data[i] = 1 // norm weights
			}
		}
		return runtime.Tensor{Dims: dims, Data: data}
	}
	w := map[string]runtime.Tensor{
		"token_embd.weight":        weight(32, 32),
		"output_norm.weight":       weight(32),
		"output.weight":            weight(32, 32),
		"blk.0.attn_norm.weight":   weight(32),
		"blk.0.attn_q.weight":      weight(32, 32),
		"blk.0.attn_k.weight":      weight(32, 16),
		"blk.0.attn_v.weight":      weight(32, 16),
		"blk.0.attn_output.weight": weight(32, 32),
		"blk.0.ffn_norm.weight":    weight(32),
		"blk.0.ffn_gate.weight":    weight(32, 64),
		"blk.0.ffn_up.weight":      weight(32, 64),
		"blk.0.ffn_down.weight":    weight(64, 32),
	}
	m, err := runtime.FromTensors(cfg, w, nil, runtime.Options{Threads: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	s, err := m.NewSession(16)
	if err != nil {
		fmt.Println(err)
		return
	}
	all, _ := s.Forward([]int32{1, 5, 9}, 0, true) // 3 rows of 32 logits
	next, _ := s.Forward([]int32{4}, 3, false)     // position 3, last row only
	fmt.Println(len(all), len(next), s.Len())
	// Output: 96 32 4
}

// ExampleSampler draws tokens with top-k and temperature from fixed logits; the same seed
// gives the same draws.
func ExampleSampler() {
	logits := []float32{0.5, 3, 2.9, -1}
	s, _ := runtime.NewSampler(runtime.SamplerOptions{Temperature: 0.7, TopK: 2, Seed: 42})
	for range 8 {
		tok := s.Sample(logits)
		s.Accept(tok)
		fmt.Print(tok == 1 || tok == 2, " ")
	}
	fmt.Println()
	// Output: true true true true true true true true
}
