package eval

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/mcompress/mcompress/internal/shard"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/calibrate"
)

// imatrixMinRows is the smallest batch whose activations are collected: llama-imatrix ignores
// multiplications of fewer than 16 token rows.
const imatrixMinRows = 16

// ImatrixCollector accumulates, for every weight matrix, the sum over tokens of the squared
// activations entering each of its input columns, and the number of tokens summed — what
// llama-imatrix collects — with a calibrate.ColumnSquares. Pass its Observe method as
// runtime.Options.ActivationObserver when loading the model, then run Collect. It is safe for
// concurrent use.
type ImatrixCollector struct {
	// ProcessOutput also collects output.weight (llama-imatrix's --process-output); by default
	// only the blk.* matrices are collected, as llama-imatrix does.
	ProcessOutput bool

	mu        sync.Mutex
	cols      calibrate.ColumnSquares
	chunks    int
	chunkSize int
}

// NewImatrixCollector returns an empty collector.
func NewImatrixCollector() *ImatrixCollector {
	c := &ImatrixCollector{}
	c.cols = calibrate.ColumnSquares{MinRows: imatrixMinRows, Select: func(w string) bool {
		return strings.HasPrefix(w, "blk.") || (c.ProcessOutput && w == "output.weight")
	}}
	return c
}

// Observe adds the activations entering a.Weights. It has the signature of
// runtime.ActivationObserver.
func (c *ImatrixCollector) Observe(a runtime.Activations) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cols.Add(a)
}

// ImatrixOptions control Collect.
type ImatrixOptions struct {
	// Context is the chunk length in tokens; 0 means DefaultContext (llama-imatrix's 512).
	Context int
	// MaxChunks limits the chunks processed; 0 means all.
	MaxChunks int
	// BatchSize is the runtime's micro-batch (0: the runtime's default). Micro-batches of
	// fewer than 16 tokens are not collected.
	BatchSize int
	// Source names the text in error messages.
	Source string
	// Progress, when not nil, is called after each chunk.
	Progress func(done, total int64)
	// Shard, when not the whole job, restricts the run to its contiguous range of the chunks
	// (shard.Shard.Range over the chunk count after MaxChunks); WriteShard then saves what a
	// merge needs (MergeImatrix).
	Shard shard.Shard
}

// Collect runs m (loaded with c.Observe as its ActivationObserver) over tokens the way
// llama-imatrix does: chunks of Context tokens, the first of each replaced by BOS when the
// vocabulary adds one, every token evaluated. It returns the perplexity of the second halves
// of the chunks, as llama-imatrix prints it.
func (c *ImatrixCollector) Collect(ctx context.Context, m *runtime.Model, tokens []int32, o ImatrixOptions) (*PerplexityResult, error) {
	cp, err := plan(len(tokens), PerplexityOptions{Context: o.Context, MaxChunks: o.MaxChunks, Source: o.Source})
	if err != nil {
		return nil, err
	}
	s, err := m.NewSession(cp.nctx)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	s.BatchSize = o.BatchSize
	bos := chunkBOS(m)
	vocab := m.Config().VocabSize
	buf := make([]int32, cp.nctx)
	var nll float64
	count := 0
	lo, hi := o.Shard.Range(cp.n)
	if lo == hi {
		return nil, bad(fmt.Errorf("eval: shard %s of %d chunks has none: use fewer shards", o.Shard, cp.n))
	}
	for i := lo; i < hi; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		copy(buf, tokens[i*cp.nctx:(i+1)*cp.nctx])
		if bos >= 0 {
			buf[0] = bos
		}
		logits, err := s.Forward(buf, 0, true)
		if err != nil {
			return nil, fmt.Errorf("eval: chunk %d: %w", i, err)
		}
		for j := cp.first; j < cp.nctx-1; j++ {
			nll += rowNLLInPlace(logits[j*vocab:(j+1)*vocab], tokens[i*cp.nctx+j+1])
			count++
		}
		c.mu.Lock()
		c.chunks++
		c.chunkSize = cp.nctx
		c.mu.Unlock()
		if o.Progress != nil {
			o.Progress(int64(i+1-lo), int64(hi-lo))
		}
	}
	if len(c.Names()) == 0 {
		return nil, fmt.Errorf("eval: no activations were collected: was the model loaded with the collector's Observe as its ActivationObserver?")
	}
	return &PerplexityResult{PPL: math.Exp(nll / float64(count)), MeanNLL: nll / float64(count), Scored: count, Chunks: hi - lo, Context: cp.nctx}, nil
}

// Names returns the collected weight names in sorted order.
func (c *ImatrixCollector) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cols.Names()
}

// Stats returns a copy of the collected statistics (sums and counts, as the imatrix file holds
// them), with datasets naming the texts.
func (c *ImatrixCollector) Stats(datasets []string) *quantize.ImatrixStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.cols.Stats()
	s.Datasets = append([]string{}, datasets...)
	s.ChunkCount, s.ChunkSize = c.chunks, c.chunkSize
	return s
}

// Imatrix returns the importance matrix as llama-quantize uses it (mean squared activation per
// column), for quantizing in the same process.
func (c *ImatrixCollector) Imatrix(datasets []string) *quantize.Imatrix {
	return c.Stats(datasets).Imatrix()
}

// WriteGGUF writes the collected statistics in llama-imatrix's GGUF format (atomically, with
// quantize.ImatrixStats.WriteGGUF), datasets naming the texts.
func (c *ImatrixCollector) WriteGGUF(path string, datasets []string) error {
	if err := c.Stats(datasets).WriteGGUF(path); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	return nil
}

// ComputeImatrix loads the GGUF model at modelPath with a collector attached, runs it over
// text (tokenized with the model's tokenizer and BOS, as llama-imatrix does) and returns the
// collector and the perplexity seen on the way.
func ComputeImatrix(ctx context.Context, modelPath, text string, threads int, processOutput bool, o ImatrixOptions) (*ImatrixCollector, *PerplexityResult, error) {
	c := NewImatrixCollector()
	c.ProcessOutput = processOutput
	m, err := runtime.Load(modelPath, runtime.Options{Threads: threads, ActivationObserver: c.Observe})
	if err != nil {
		return nil, nil, fmt.Errorf("eval: %w", err)
	}
	defer m.Close()
	tokens, err := Tokenize(m, text)
	if err != nil {
		return nil, nil, err
	}
	ppl, err := c.Collect(ctx, m, tokens, o)
	if err != nil {
		return nil, nil, err
	}
	return c, ppl, nil
}
