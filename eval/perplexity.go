package eval

import (
	"context"
	"fmt"
	"github.com/mcompress/mcompress/internal/shard"
	"io"
	"math"
	"time"

	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/kernels"
)

// DefaultContext is the context length of perplexity chunks when none is given (llama.cpp's
// default for llama-perplexity).
const DefaultContext = 512

// PerplexityOptions control Perplexity.
type PerplexityOptions struct {
	// Context is the chunk length n_ctx in tokens; 0 means DefaultContext.
	Context int
	// Stride, when positive, switches to a sliding window: windows of Context tokens start
	// every Stride tokens and each scores its last Stride tokens, so every token after the
	// first window's first Context-Stride is scored once with at least Context-Stride tokens
	// of history. 0 means llama.cpp's chunking (disjoint chunks, second half scored).
	Stride int
	// MaxChunks limits the number of chunks (windows); 0 means all.
	MaxChunks int
	// BatchSize is the runtime's micro-batch (0: the runtime's default).
	BatchSize int
	// SaveBase, when not nil, receives the log-probabilities of every scored token in
	// llama.cpp's --kl-divergence-base format (see WriteKLBase); chunked mode only.
	SaveBase io.Writer
	// Source names the text in error messages (a file name).
	Source string
	// Progress, when not nil, is called after each chunk with the chunks done and the total.
	Progress func(done, total int64)
	// Shard, when not the whole job, evaluates only its contiguous range of the chunks
	// (after MaxChunks); the result's NLL then holds what MergePerplexity needs.
	Shard shard.Shard
}

// PerplexityResult is the outcome of Perplexity.
type PerplexityResult struct {
	// PPL is exp of the mean negative log-likelihood of the scored tokens.
	PPL float64 `json:"ppl"`
	// Uncertainty is llama.cpp's "±": PPL times the standard error of the mean NLL.
	Uncertainty float64 `json:"ppl_uncertainty"`
	// MeanNLL is the mean negative log-likelihood in nats per token.
	MeanNLL float64 `json:"mean_nll"`
	// Scored is the number of tokens scored; Chunks the number of chunks (windows).
	Scored int `json:"scored_tokens"`
	Chunks int `json:"chunks"`
	// Context and Stride echo the options (Stride 0: llama.cpp chunking).
	Context int `json:"n_ctx"`
	Stride  int `json:"stride,omitempty"`
	// Seconds is the wall time of the evaluation; TokensPerSecond is Chunks*Context/Seconds,
	// the rate at which text is covered (llama-perplexity's prompt-eval rate).
	Seconds         float64 `json:"seconds"`
	TokensPerSecond float64 `json:"tokens_per_second"`

	// Shard, for a sharded run, holds what MergePerplexity needs (saved in the shard's JSON).
	Shard *PerplexityShard `json:"shard,omitempty"`
}

// chunking describes how a token stream is cut: n chunks of nctx tokens starting every step
// tokens, each scoring the predictions made at positions first..nctx-2.
type chunking struct {
	nctx, step, first, n int
}

func (c chunking) scoredPerChunk() int { return c.nctx - 1 - c.first }

// plan works out the chunks for ntok tokens, with llama.cpp's minimum of 2*nctx tokens.
func plan(ntok int, o PerplexityOptions) (chunking, error) {
	nctx := o.Context
	if nctx == 0 {
		nctx = DefaultContext
	}
	src := o.Source
	if src == "" {
		src = "text"
	}
	if nctx < 4 {
		return chunking{}, bad(fmt.Errorf("eval: context %d is too short (at least 4 tokens)", nctx))
	}
	if o.Stride < 0 || o.Stride >= nctx {
		return chunking{}, bad(fmt.Errorf("eval: stride %d must be in [1, %d) (or 0 for llama.cpp's chunks)", o.Stride, nctx))
	}
	if ntok < 2*nctx {
		return chunking{}, bad(fmt.Errorf("eval: %s tokenizes to only %d tokens; a context of %d needs at least %d (two chunks, as llama-perplexity requires)", src, ntok, nctx, 2*nctx))
	}
	c := chunking{nctx: nctx, step: nctx, first: nctx / 2, n: ntok / nctx}
	if o.Stride > 0 {
		c.step, c.first, c.n = o.Stride, nctx-1-o.Stride, (ntok-nctx)/o.Stride+1
	}
	if o.MaxChunks > 0 {
		c.n = min(c.n, o.MaxChunks)
	}
	return c, nil
}

// chunkLogits evaluates one chunk (its first token replaced by bos when bos >= 0) and returns
// the logits of positions c.first..nctx-2, row-major, which predict tokens first+1..nctx-1.
// The last token is never evaluated (its prediction is not scored).
func chunkLogits(s *runtime.Session, chunk []int32, bos int32, c chunking, buf []int32) ([]float32, error) {
	buf = append(buf[:0], chunk...)
	if bos >= 0 {
		buf[0] = bos
	}
	head, err := s.Forward(buf[:c.first+1], 0, false)
	if err != nil {
		return nil, err
	}
	if c.first+1 >= c.nctx-1 {
		return head, nil
	}
	tail, err := s.Forward(buf[c.first+1:c.nctx-1], c.first+1, true)
	if err != nil {
		return nil, err
	}
	return append(head, tail...), nil
}

// Perplexity scores tokens (which should start with BOS, as Tokenize returns them) the way
// llama-perplexity does: the stream is cut into chunks of Context tokens, the first token of
// each chunk is replaced by the model's BOS (when its vocabulary adds one), and the second
// half of each chunk is scored: positions Context/2 .. Context-2 predict the next token.
// PPL = exp(mean NLL), reported with llama.cpp's uncertainty. With Stride > 0 a sliding window
// is used instead (see PerplexityOptions.Stride).
func Perplexity(ctx context.Context, m *runtime.Model, tokens []int32, o PerplexityOptions) (*PerplexityResult, error) {
	c, err := plan(len(tokens), o)
	if err != nil {
		return nil, err
	}
	if o.SaveBase != nil && o.Stride > 0 {
		return nil, bad(fmt.Errorf("eval: the KL-divergence base file needs llama.cpp's chunking (no stride)"))
	}
	if o.SaveBase != nil && !o.Shard.IsWhole() {
		return nil, bad(fmt.Errorf("eval: the KL-divergence base file cannot be sharded"))
	}
	lo, hi := o.Shard.Range(c.n)
	if lo == hi {
		return nil, bad(fmt.Errorf("eval: shard %s of %d chunks has none: use fewer shards", o.Shard, c.n))
	}
	total := c.n
	c.n = hi - lo
	vocab := m.Config().VocabSize
	cr, err := newChunkRunner(m, c, o.BatchSize)
	if err != nil {
		return nil, err
	}
	var bw *klBaseWriter
	if o.SaveBase != nil {
		if bw, err = newKLBaseWriter(o.SaveBase, c, vocab, tokens); err != nil {
			return nil, err
		}
	}
	rows := c.scoredPerChunk()
	vals := make([][]float64, cr.slots())
	enc := make([][]byte, cr.slots()) // encoded base rows, when saving a base
	for k := range vals {
		vals[k] = make([]float64, rows)
		if bw != nil {
			enc[k] = make([]byte, rows*bw.rowBytes())
		}
	}
	all := make([]float64, 0, c.n*rows)
	start := time.Now()
	err = cr.run(ctx, func(i int) []int32 { return tokens[(lo+i)*c.step : (lo+i)*c.step+c.nctx] }, nil,
		func(k, i int, logits []float32) {
			off := (lo + i) * c.step
			forRows(rows, cr.rowThreads, func(r int) {
				row := logits[r*vocab : (r+1)*vocab]
				tok := tokens[off+c.first+r+1]
				if bw != nil {
					n := bw.rowBytes()
					vals[k][r] = bw.encode(enc[k][r*n:(r+1)*n], row, tok)
				} else {
					vals[k][r] = rowNLLInPlace(row, tok)
				}
			})
		},
		func(k, i int) error {
			all = append(all, vals[k]...)
			if bw != nil {
				bw.write(enc[k])
				if err := bw.flush(); err != nil {
					return err
				}
			}
			if o.Progress != nil {
				o.Progress(int64(i+1), int64(c.n))
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	res := perplexityResult(all, c.n, c.nctx, o.Stride, time.Since(start).Seconds())
	if !o.Shard.IsWhole() || o.Shard.Source != "" {
		res.Shard = &PerplexityShard{Shard: o.Shard.String(), FirstChunk: lo, TotalChunks: total, NLL: all}
	}
	return res, nil
}

// perplexityResult computes the result from the scored tokens' NLLs in chunk and row order
// (the one place they are summed, so that merged shards give one run's bits).
func perplexityResult(nll []float64, chunks, nctx, stride int, secs float64) *PerplexityResult {
	var sum, sum2 float64
	for _, v := range nll {
		sum += v
		sum2 += v * v
	}
	count := len(nll)
	mean := sum / float64(count)
	res := &PerplexityResult{
		PPL: math.Exp(mean), MeanNLL: mean, Scored: count, Chunks: chunks, Context: nctx,
		Stride: stride, Seconds: secs,
	}
	if secs > 0 {
		res.TokensPerSecond = float64(chunks*nctx) / secs
	}
	if v := sum2/float64(count) - mean*mean; v > 0 && count > 1 {
		res.Uncertainty = math.Sqrt(v/float64(count-1)) * res.PPL
	}
	return res
}

// rowNLL returns -log softmax(row)[tok], with the sum of exponentials in float64.
func rowNLL(row []float32, tok int32) float64 {
	mx := row[0]
	for _, v := range row[1:] {
		mx = max(mx, v)
	}
	var sum float64
	for _, v := range row {
		sum += math.Exp(float64(v - mx))
	}
	return float64(mx) + math.Log(sum) - float64(row[tok])
}

// rowNLLInPlace returns -log softmax(row)[tok] like rowNLL, overwriting row with exp(row − max)
// to use the runtime's vector exponential (float32 terms and sums, within about 1e-6 of
// rowNLL, far inside the 0.1% agreement with llama-perplexity that tests check).
func rowNLLInPlace(row []float32, tok int32) float64 {
	mx := row[0]
	for _, v := range row[1:] {
		mx = max(mx, v)
	}
	lt := row[tok]
	sum := kernels.SoftmaxExp(row)
	return float64(mx) + math.Log(float64(sum)) - float64(lt)
}
