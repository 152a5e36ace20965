package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// PerplexityShard is what a shard of a perplexity run keeps for the merge: which chunks it
// scored and every scored token's negative log-likelihood, in chunk and row order. JSON
// numbers round-trip float64 exactly, so the merge sums the very values one run would.
type PerplexityShard struct {
	// Shard is "I/N".
	Shard string `json:"shard"`
	// FirstChunk is the shard's first chunk; TotalChunks the chunks of the whole run.
	FirstChunk  int       `json:"first_chunk"`
	TotalChunks int       `json:"total_chunks"`
	NLL         []float64 `json:"nll"`
}

// ReadPerplexityShard reads a shard's result as `mcompress perplexity --shard` writes it (the
// JSON of a PerplexityResult with its shard part).
func ReadPerplexityShard(path string) (*PerplexityResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, adopt(fmt.Errorf("eval: %w", err))
	}
	var r PerplexityResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, bad(fmt.Errorf("eval: %s: not a perplexity shard: %w", path, err))
	}
	if r.Shard == nil || len(r.Shard.NLL) == 0 {
		return nil, bad(fmt.Errorf("eval: %s: not a perplexity shard (no \"shard\" part with the tokens' NLL: was it written with --shard?)", path))
	}
	return &r, nil
}

// MergePerplexity joins the results of a run's shards, given in any order, into the result one
// process would have computed over all the chunks: same PPL, uncertainty and mean NLL, bit for
// bit (Seconds is the sum of the shards'). The shards must share the context and stride and
// together cover the run's chunks once.
func MergePerplexity(parts []*PerplexityResult, names []string) (*PerplexityResult, error) {
	if len(parts) == 0 {
		return nil, bad(errors.New("eval: merge perplexity: no input files"))
	}
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	// Sort by first chunk (insertion sort: a handful of shards).
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && parts[order[j]].Shard.FirstChunk < parts[order[j-1]].Shard.FirstChunk; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	first := parts[order[0]]
	var nll []float64
	next, secs := 0, 0.0
	for _, i := range order {
		p := parts[i]
		if p.Context != first.Context || p.Stride != first.Stride || p.Shard.TotalChunks != first.Shard.TotalChunks {
			return nil, bad(fmt.Errorf("eval: merge perplexity: %s (n_ctx %d, stride %d, %d chunks in all) is not from the run of %s (n_ctx %d, stride %d, %d chunks)",
				names[i], p.Context, p.Stride, p.Shard.TotalChunks, names[order[0]], first.Context, first.Stride, first.Shard.TotalChunks))
		}
		if p.Shard.FirstChunk != next {
			return nil, bad(fmt.Errorf("eval: merge perplexity: %s starts at chunk %d, want %d: a shard is missing or repeated", names[i], p.Shard.FirstChunk, next))
		}
		nll = append(nll, p.Shard.NLL...)
		next += p.Chunks
		secs += p.Seconds
	}
	if next != first.Shard.TotalChunks {
		return nil, bad(fmt.Errorf("eval: merge perplexity: the shards cover %d of %d chunks: a shard is missing", next, first.Shard.TotalChunks))
	}
	return perplexityResult(nll, next, first.Context, first.Stride, secs), nil
}
