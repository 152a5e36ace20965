package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// BenchOptions describe a llama-bench style measurement.
type BenchOptions struct {
	// Prompt is the number of prompt tokens processed as one batch (pp); 0 skips the test.
	Prompt int
	// Gen is the number of tokens generated one at a time from an empty cache (tg); 0 skips.
	Gen int
	// Reps is the number of timed repetitions of each test (after one untimed warm-up); 0
	// means 5.
	Reps int
	// Seed chooses the random token ids used as input.
	Seed uint64
}

// BenchResult is the speed of one test.
type BenchResult struct {
	// Test is "pp512", "tg128", ... as llama-bench names them.
	Test string
	// Tokens is the number of tokens each repetition processed.
	Tokens int
	// Samples holds tokens per second for each repetition.
	Samples []float64
	// Mean and StdDev summarise Samples (sample standard deviation, 0 for one sample).
	Mean, StdDev float64
	// CPUMean is the mean of tokens per second of process CPU time (user plus system, all
	// threads): what one otherwise idle core would do. 0 where CPU time is not measured.
	CPUMean float64
}

// Bench measures prompt processing and token generation speed the way llama-bench does:
// random tokens, a fresh cache for every repetition, tokens per second averaged over the
// repetitions. It returns one result per test run (pp first).
func Bench(m *Model, o BenchOptions) ([]BenchResult, error) {
	if o.Prompt < 0 || o.Gen < 0 || o.Reps < 0 {
		return nil, fmt.Errorf("runtime: bench: negative prompt %d, generation %d or repetitions %d", o.Prompt, o.Gen, o.Reps)
	}
	if o.Reps == 0 {
		o.Reps = 5
	}
	ctx := max(o.Prompt, o.Gen, 1)
	s, err := m.NewSession(ctx)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 2))
	vocab := m.cfg.VocabSize
	var out []BenchResult
	if o.Prompt > 0 {
		tokens := make([]int32, o.Prompt)
		for i := range tokens {
			tokens[i] = int32(rng.IntN(vocab))
		}
		s.BatchSize = o.Prompt
		r, err := benchLoop(fmt.Sprintf("pp%d", o.Prompt), o.Prompt, o.Reps, func() error {
			_, err := s.Forward(tokens, 0, false)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if o.Gen > 0 {
		r, err := benchLoop(fmt.Sprintf("tg%d", o.Gen), o.Gen, o.Reps, func() error {
			tok := int32(rng.IntN(vocab))
			for i := range o.Gen {
				logits, err := s.Forward([]int32{tok}, i, false)
				if err != nil {
					return err
				}
				tok = argmax(logits)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func benchLoop(name string, tokens, reps int, run func() error) (BenchResult, error) {
	r := BenchResult{Test: name, Tokens: tokens}
	if err := run(); err != nil { // warm-up: page in the weights, size the buffers
		return r, err
	}
	var cpu []float64
	for range reps {
		start, c0 := time.Now(), processCPU()
		if err := run(); err != nil {
			return r, err
		}
		r.Samples = append(r.Samples, float64(tokens)/time.Since(start).Seconds())
		if c := processCPU() - c0; c > 0 {
			cpu = append(cpu, float64(tokens)/c)
		}
	}
	r.Mean, r.StdDev = meanStd(r.Samples)
	if len(cpu) == reps {
		r.CPUMean, _ = meanStd(cpu)
	}
	return r, nil
}

func meanStd(x []float64) (mean, std float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}
