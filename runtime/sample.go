package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SamplerOptions choose how the next token is drawn from the logits. The zero value is greedy
// decoding (always the most likely token) without a repetition penalty.
type SamplerOptions struct {
	// Temperature divides the logits before sampling; 0 or less means greedy decoding.
	Temperature float64
	// TopK keeps only the K most likely tokens; 0 means all.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probabilities sum to at least
	// TopP; 0 or 1 means all.
	TopP float64
	// MinP drops tokens whose probability is below MinP times the most likely one's; 0 means
	// none.
	MinP float64
	// RepeatPenalty divides positive logits and multiplies negative ones of tokens seen in the
	// last RepeatLastN tokens (llama.cpp's repeat penalty); 0 or 1 means none.
	RepeatPenalty float64
	// RepeatLastN is the window of the repetition penalty; 0 means 64.
	RepeatLastN int
	// Seed seeds the random draws: the same seed, options and logits give the same tokens.
	Seed uint64
}

// Sampler draws tokens from logits as its options say. It applies, in llama.cpp's order, the
// repetition penalty, top-k, top-p, min-p and temperature, then draws.
type Sampler struct {
	opts    SamplerOptions
	rng     *rand.Rand
	history []int32
	cand    []candidate
}

type candidate struct {
	id    int32
	logit float64
	p     float64
}

// NewSampler returns a Sampler; it reports an option out of range.
func NewSampler(o SamplerOptions) (*Sampler, error) {
	switch {
	case o.TopK < 0:
		return nil, bad(fmt.Errorf("sampler: top-k %d is negative", o.TopK))
	case o.TopP < 0 || o.TopP > 1 || math.IsNaN(o.TopP):
		return nil, bad(fmt.Errorf("sampler: top-p %g outside [0, 1]", o.TopP))
	case o.MinP < 0 || o.MinP > 1 || math.IsNaN(o.MinP):
		return nil, bad(fmt.Errorf("sampler: min-p %g outside [0, 1]", o.MinP))
	case o.RepeatPenalty < 0 || math.IsNaN(o.RepeatPenalty):
		return nil, bad(fmt.Errorf("sampler: repeat penalty %g is negative", o.RepeatPenalty))
	case o.RepeatLastN < 0:
		return nil, bad(fmt.Errorf("sampler: repeat window %d is negative", o.RepeatLastN))
	case math.IsNaN(o.Temperature) || math.IsInf(o.Temperature, 0):
		return nil, bad(fmt.Errorf("sampler: temperature %g is not finite", o.Temperature))
	}
	if o.RepeatLastN == 0 {
		o.RepeatLastN = 64
	}
	return &Sampler{opts: o, rng: rand.New(rand.NewPCG(o.Seed, 0x6d636f6d70726573))}, nil
}

// Accept records a token of the sequence (prompt or generated) for the repetition penalty.
func (s *Sampler) Accept(tok int32) {
	s.history = append(s.history, tok)
	if n := s.opts.RepeatLastN; len(s.history) > 2*n {
		s.history = append(s.history[:0], s.history[len(s.history)-n:]...)
	}
}

// Sample returns the next token for one row of logits. It does not modify logits and does
// not Accept the token.
func (s *Sampler) Sample(logits []float32) int32 {
	o := s.opts
	pen := o.RepeatPenalty != 0 && o.RepeatPenalty != 1
	var seen map[int32]bool
	if pen {
		seen = map[int32]bool{}
		h := s.history
		if len(h) > o.RepeatLastN {
			h = h[len(h)-o.RepeatLastN:]
		}
		for _, t := range h {
			seen[t] = true
		}
	}
	logit := func(i int) float64 {
		l := float64(logits[i])
		if pen && seen[int32(i)] {
			if l > 0 {
				l /= o.RepeatPenalty
			} else {
				l *= o.RepeatPenalty
			}
		}
		return l
	}
	if o.Temperature <= 0 {
		best, bl := 0, math.Inf(-1)
		for i := range logits {
			if l := logit(i); l > bl {
				best, bl = i, l
			}
		}
		return int32(best)
	}
	c := s.cand[:0]
	for i := range logits {
		c = append(c, candidate{id: int32(i), logit: logit(i)})
	}
	// Most likely first; ties broken by token id so the order is deterministic.
	slices.SortFunc(c, func(a, b candidate) int {
		switch {
		case a.logit > b.logit:
			return -1
		case a.logit < b.logit:
			return 1
		}
		return int(a.id - b.id)
	})
	if o.TopK > 0 && o.TopK < len(c) {
		c = c[:o.TopK]
	}
	probs := func(temp float64) {
		var sum float64
		for i := range c {
			c[i].p = math.Exp((c[i].logit - c[0].logit) / temp)
			sum += c[i].p
		}
		for i := range c {
			c[i].p /= sum
		}
	}
	if o.TopP > 0 && o.TopP < 1 {
		probs(1)
		var cum float64
		for i := range c {
			cum += c[i].p
			if cum >= o.TopP {
				c = c[:i+1]
				break
			}
		}
	}
	if o.MinP > 0 {
		probs(1)
		keep := 1
		for keep < len(c) && c[keep].p >= o.MinP*c[0].p {
			keep++
		}
		c = c[:keep]
	}
	probs(o.Temperature)
	s.cand = c
	r := s.rng.Float64()
	for i := range c {
		r -= c[i].p
		if r < 0 {
			return c[i].id
		}
	}
	return c[len(c)-1].id
}
