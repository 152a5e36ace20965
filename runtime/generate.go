package runtime

import (
	"context"
	"fmt"
	"slices"
)

// GenerateOptions control Session.Generate.
type GenerateOptions struct {
	// MaxTokens is the most tokens to generate; 0 means until the context is full.
	MaxTokens int
	// Sampler chooses each token; the zero value is greedy decoding.
	Sampler SamplerOptions
	// Stop lists the end-of-generation tokens: generation ends after emitting none of them.
	Stop []int32
}

// Generate evaluates prompt from position 0 (the cache is reset) and then generates tokens
// one at a time, calling emit with each until a stop token, MaxTokens, the end of the context,
// ctx's cancellation or an error from emit. Stop tokens are not emitted. It returns the number
// of tokens generated. NaN logits are an error naming the weight that holds a NaN.
func (s *Session) Generate(ctx context.Context, prompt []int32, o GenerateOptions, emit func(tok int32) error) (int, error) {
	if len(prompt) == 0 {
		return 0, fmt.Errorf("runtime: empty prompt")
	}
	smp, err := NewSampler(o.Sampler)
	if err != nil {
		return 0, fmt.Errorf("runtime: %w", err)
	}
	for _, t := range prompt {
		smp.Accept(t)
	}
	logits, err := s.Forward(prompt, 0, false)
	if err != nil {
		return 0, err
	}
	n := 0
	for o.MaxTokens <= 0 || n < o.MaxTokens {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if err := s.m.checkLogits(logits); err != nil {
			return n, err
		}
		tok := smp.Sample(logits)
		if slices.Contains(o.Stop, tok) {
			return n, nil
		}
		smp.Accept(tok)
		n++
		if err := emit(tok); err != nil {
			return n, err
		}
		if s.n >= s.ctx || (o.MaxTokens > 0 && n >= o.MaxTokens) {
			break
		}
		if logits, err = s.Forward([]int32{tok}, s.n, false); err != nil {
			return n, err
		}
	}
	return n, nil
}
