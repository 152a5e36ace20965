package eval

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
)

// Size describes how big a model is.
type Size struct {
	// FileBytes is the size of the GGUF file.
	FileBytes int64 `json:"file_bytes"`
	// TensorBytes is the size of all tensor data; Params the number of their elements.
	TensorBytes int64 `json:"tensor_bytes"`
	Params      int64 `json:"params"`
	// BitsPerWeight is 8·TensorBytes/Params, as llama.cpp prints it ("BPW").
	BitsPerWeight float64 `json:"bits_per_weight"`
	// Types is what the file really holds, one entry per tensor type, most weights first: a
	// "Q4_0" file may keep some tensors in other types (norms in F32, fallbacks for rows that
	// do not fill a block).
	Types []TypeShare `json:"types,omitempty"`
}

// TypeShare is the part of a model stored in one tensor type.
type TypeShare struct {
	Type    string `json:"type"`
	Tensors int    `json:"tensors"`
	Params  int64  `json:"params"`
	Bytes   int64  `json:"bytes"`
}

// TypesSummary spells Types for people: each type with its share of the weights and of the
// tensor data, e.g. "Q8_0 50.2% of weights (63.1% of bytes, 1 tensor), Q4_0 49.6% (36.6%, 14), F32 0.2% (0.3%, 5)".
func (s *Size) TypesSummary() string {
	var b strings.Builder
	for i, t := range s.Types {
		pw, pb := 100*float64(t.Params)/float64(max(s.Params, 1)), 100*float64(t.Bytes)/float64(max(s.TensorBytes, 1))
		if i == 0 {
			fmt.Fprintf(&b, "%s %.1f%% of weights (%.1f%% of bytes, %d %s)", t.Type, pw, pb, t.Tensors, plural(t.Tensors, "tensor", "tensors"))
		} else {
			fmt.Fprintf(&b, ", %s %.1f%% (%.1f%%, %d)", t.Type, pw, pb, t.Tensors)
		}
	}
	return b.String()
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ModelSize reads the tensor table of the GGUF file at path.
func ModelSize(path string) (*Size, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, bad(fmt.Errorf("eval: %w", err))
	}
	defer f.Close()
	s := &Size{FileBytes: f.Size()}
	if st, err := os.Stat(path); err == nil {
		s.FileBytes = st.Size()
	}
	byType := map[string]*TypeShare{}
	for _, t := range f.Tensors {
		s.TensorBytes += int64(t.Size())
		s.Params += int64(t.NumElements())
		name := t.Type.String()
		ts := byType[name]
		if ts == nil {
			ts = &TypeShare{Type: name}
			byType[name] = ts
		}
		ts.Tensors++
		ts.Params += int64(t.NumElements())
		ts.Bytes += int64(t.Size())
	}
	for _, ts := range byType {
		s.Types = append(s.Types, *ts)
	}
	sort.Slice(s.Types, func(i, j int) bool {
		a, b := s.Types[i], s.Types[j]
		return a.Params > b.Params || a.Params == b.Params && a.Type < b.Type
	})
	if s.Params > 0 {
		s.BitsPerWeight = 8 * float64(s.TensorBytes) / float64(s.Params)
	}
	return s, nil
}

// The latency measurement's default prompt and generation lengths.
const (
	defaultLatencyPrompt = 128
	defaultLatencyGen    = 32
)

// LatencyOptions control MeasureLatency.
type LatencyOptions struct {
	// PromptTokens is the prompt length processed as one batch; 0 means 128.
	PromptTokens int
	// GenTokens is the number of tokens generated one at a time after it; 0 means 32.
	GenTokens int
	// Repeats is how many times each is measured (the median is reported, with the spread);
	// 0 means 5.
	Repeats int
}

// Latency is the speed of the runtime on one model.
type Latency struct {
	PromptTokens          int     `json:"prompt_tokens"`
	PromptTokensPerSecond float64 `json:"prompt_tokens_per_second"`
	GenTokens             int     `json:"gen_tokens"`
	GenTokensPerSecond    float64 `json:"gen_tokens_per_second"`
	Threads               int     `json:"threads"`
	// Device is where the speeds were measured when not on this machine (eval --latency-from).
	Device *Device `json:"device,omitempty"`
	// Repeats is the number of timed runs; the speeds above are their medians. PromptSpread and
	// GenSpread are (max-min)/median of each speed over the runs.
	Repeats      int     `json:"repeats"`
	PromptSpread float64 `json:"prompt_spread"`
	GenSpread    float64 `json:"gen_spread"`
}

// medianSpread returns the median of v and (max-min)/median.
func medianSpread(v []float64) (median, spread float64) {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	if median > 0 {
		spread = (s[n-1] - s[0]) / median
	}
	return median, spread
}

// MeasureLatency times the runtime on m: the prompt (the first PromptTokens of tokens,
// repeated if needed) in one Forward call, then GenTokens greedy decoding steps of one token
// each, Repeats times; it reports the median speeds and their spread. Wall-clock figures: they
// vary with the machine and its load, which the spread shows.
func MeasureLatency(ctx context.Context, m *runtime.Model, tokens []int32, o LatencyOptions) (*Latency, error) {
	p, g, reps := o.PromptTokens, o.GenTokens, o.Repeats
	if p <= 0 {
		p = defaultLatencyPrompt
	}
	if g <= 0 {
		g = defaultLatencyGen
	}
	if reps <= 0 {
		reps = 5
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("eval: latency needs some prompt tokens")
	}
	s, err := m.NewSession(p + g)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	prompt := make([]int32, p)
	for i := range prompt {
		prompt[i] = tokens[i%len(tokens)]
	}
	var pSpeeds, gSpeeds []float64
	for r := 0; r < reps; r++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		logits, err := s.Forward(prompt, 0, false)
		if err != nil {
			return nil, fmt.Errorf("eval: latency: %w", err)
		}
		dp := time.Since(t0)
		t1 := time.Now()
		for i := 0; i < g; i++ {
			next := int32(0)
			for j, v := range logits {
				if v > logits[next] {
					next = int32(j)
				}
			}
			if logits, err = s.Forward([]int32{next}, p+i, false); err != nil {
				return nil, fmt.Errorf("eval: latency: %w", err)
			}
		}
		dg := time.Since(t1)
		pSpeeds = append(pSpeeds, float64(p)/dp.Seconds())
		gSpeeds = append(gSpeeds, float64(g)/dg.Seconds())
	}
	l := &Latency{PromptTokens: p, GenTokens: g, Threads: m.Threads(), Repeats: reps}
	l.PromptTokensPerSecond, l.PromptSpread = medianSpread(pSpeeds)
	l.GenTokensPerSecond, l.GenSpread = medianSpread(gSpeeds)
	return l, nil
}
