package eval

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
)

// imatrixMinRows is the smallest batch whose activations are collected: llama-imatrix ignores
// multiplications of fewer than 16 token rows.
const imatrixMinRows = 16

// ImatrixCollector accumulates, for every weight matrix, the sum over tokens of the squared
// activations entering each of its input columns, and the number of tokens summed — what
// llama-imatrix collects. Pass its Observe method as runtime.Options.ActivationObserver when
// loading the model, then run Collect. It is safe for concurrent use.
type ImatrixCollector struct {
	// ProcessOutput also collects output.weight (llama-imatrix's --process-output); by default
	// only the blk.* matrices are collected, as llama-imatrix does.
	ProcessOutput bool

	mu        sync.Mutex
	entries   map[string]*imatrixEntry
	chunks    int
	chunkSize int
}

type imatrixEntry struct {
	sums  []float64
	count int64
}

// NewImatrixCollector returns an empty collector.
func NewImatrixCollector() *ImatrixCollector {
	return &ImatrixCollector{entries: map[string]*imatrixEntry{}}
}

// Observe adds rows activation vectors of cols values entering weight. It has the signature
// of runtime.ActivationObserver.
func (c *ImatrixCollector) Observe(weight string, x []float32, rows, cols int) {
	if rows < imatrixMinRows || !(strings.HasPrefix(weight, "blk.") || (c.ProcessOutput && weight == "output.weight")) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[weight]
	if e == nil {
		e = &imatrixEntry{sums: make([]float64, cols)}
		c.entries[weight] = e
	}
	if len(e.sums) != cols {
		return // cannot happen for one model; a different model's tensor of the same name
	}
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		for j, v := range row {
			e.sums[j] += float64(v) * float64(v)
		}
	}
	e.count += int64(rows)
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
	for i := 0; i < cp.n; i++ {
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
			o.Progress(int64(i+1), int64(cp.n))
		}
	}
	if len(c.entries) == 0 {
		return nil, fmt.Errorf("eval: no activations were collected: was the model loaded with the collector's Observe as its ActivationObserver?")
	}
	return &PerplexityResult{PPL: math.Exp(nll / float64(count)), MeanNLL: nll / float64(count), Scored: count, Chunks: cp.n, Context: cp.nctx}, nil
}

// Names returns the collected weight names in sorted order.
func (c *ImatrixCollector) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.entries))
	for n := range c.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Imatrix returns the importance matrix as llama-quantize uses it (mean squared activation per
// column), for quantizing in the same process.
func (c *ImatrixCollector) Imatrix(datasets []string) *quantize.Imatrix {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := &quantize.Imatrix{Entries: map[string][]float32{}, Datasets: append([]string{}, datasets...), ChunkCount: c.chunks, ChunkSize: c.chunkSize}
	for n, e := range c.entries {
		v := make([]float32, len(e.sums))
		for j, s := range e.sums {
			v[j] = float32(s) / float32(e.count)
		}
		im.Entries[n] = v
	}
	return im
}

// WriteGGUF writes the collected statistics in llama-imatrix's GGUF format (atomically):
// metadata general.type = "imatrix", imatrix.datasets (the text files), imatrix.chunk_count
// and imatrix.chunk_size (u32); for each weight NAME, in sorted order, an F32 tensor
// NAME.in_sum2 with the summed squared activations of its n_cols input columns and an F32
// tensor NAME.counts with the number of tokens summed (ggml shapes [n_cols, 1] and [1, 1],
// stored as [n_cols] and [1] since ggml drops trailing ones). llama-quantize --imatrix and
// mcompress quantize --imatrix read it.
func (c *ImatrixCollector) WriteGGUF(path string, datasets []string) error {
	names := c.Names()
	if len(names) == 0 {
		return fmt.Errorf("eval: imatrix: nothing collected")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if datasets == nil {
		datasets = []string{}
	}
	md := gguf.Metadata{
		{Key: "general.type", Value: "imatrix"},
		{Key: "imatrix.datasets", Value: gguf.Array{Type: gguf.ValueString, Values: append([]string{}, datasets...)}},
		{Key: "imatrix.chunk_count", Value: uint32(c.chunks)},
		{Key: "imatrix.chunk_size", Value: uint32(c.chunkSize)},
	}
	var tensors []gguf.TensorInfo
	var blobs [][]byte
	for _, n := range names {
		e := c.entries[n]
		tensors = append(tensors,
			// ggml's GGUF writer drops trailing dimensions of 1: a [n_cols, 1] tensor is stored
			// as [n_cols], the [1, 1] counts as [1]. We write what llama-imatrix writes.
			gguf.TensorInfo{Name: n + ".in_sum2", Type: gguf.TypeF32, Dims: []uint64{uint64(len(e.sums))}},
			gguf.TensorInfo{Name: n + ".counts", Type: gguf.TypeF32, Dims: []uint64{1}})
		sums := make([]byte, 4*len(e.sums))
		for j, s := range e.sums {
			binary.LittleEndian.PutUint32(sums[4*j:], math.Float32bits(float32(s)))
		}
		blobs = append(blobs, sums, binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(e.count))))
	}
	err := gguf.WriteFile(path, md, tensors, func(w *gguf.Writer) error {
		for i, b := range blobs {
			if err := w.WriteTensor(tensors[i].Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("eval: imatrix: %w", err)
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
