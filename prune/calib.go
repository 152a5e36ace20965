package prune

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/calibrate"
)

// CalibrationSequences cuts tokens (a tokenized calibration text) into n consecutive sequences
// of l tokens, the first token of each replaced by bos when bos >= 0 (as llama.cpp's perplexity
// and imatrix chunks are). Too few tokens for n sequences is an error wrapping ErrBadInput.
func CalibrationSequences(tokens []int32, n, l int, bos int32) ([][]int32, error) {
	if n <= 0 || l < 2 {
		return nil, fmt.Errorf("%w: calibration needs at least one sequence of at least 2 tokens (got %d of %d)", ErrBadInput, n, l)
	}
	if len(tokens) < n*l {
		return nil, fmt.Errorf("%w: too little calibration data: %d tokens, %d sequences of %d need %d (use more text, or fewer or shorter samples)", ErrBadInput, len(tokens), n, l, n*l)
	}
	seqs := make([][]int32, n)
	for i := range seqs {
		seqs[i] = slices.Clone(tokens[i*l : (i+1)*l])
		if bos >= 0 {
			seqs[i][0] = bos
		}
	}
	return seqs, nil
}

// blockwise runs a model over calibration sequences one block at a time, as SparseGPT does:
// it holds, per sequence, the hidden states entering the current block, runs that block over
// them to collect statistics, lets the caller change the block's weights in place, and runs the
// block again to get the states the next block sees. Memory is the hidden states (twice) and
// whatever the caller's accumulators keep for one block.
type blockwise struct {
	model  *runtime.Model
	sess   *runtime.Session
	hidden [][]float32 // per sequence, the states entering block next
	next   int
	cur    *calibrate.Collector // receives the observations; nil outside collect
}

// newBlockwise builds the runtime model over fm and embeds every sequence.
func newBlockwise(fm *FloatModel, seqs [][]int32, threads int) (*blockwise, error) {
	bw := &blockwise{}
	m, err := fm.Runtime(runtime.Options{Threads: threads, ActivationObserver: bw.observe})
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	longest := 0
	for _, s := range seqs {
		longest = max(longest, len(s))
	}
	s, err := m.NewSession(longest)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("prune: %w", err)
	}
	bw.model, bw.sess = m, s
	h := fm.Config.Hidden
	for i, seq := range seqs {
		x := make([]float32, len(seq)*h)
		if err := s.Embed(seq, x); err != nil {
			m.Close()
			return nil, fmt.Errorf("prune: calibration sequence %d: %w", i, err)
		}
		bw.hidden = append(bw.hidden, x)
	}
	return bw, nil
}

func (bw *blockwise) observe(a runtime.Activations) {
	if bw.cur != nil {
		bw.cur.Observe(a)
	}
}

func (bw *blockwise) close() { bw.model.Close() }

// collect runs the current block over every sequence's states, feeding accs with that block's
// observations, and returns the block's outputs (the states are left as they were).
func (bw *blockwise) collect(ctx context.Context, accs ...calibrate.Accumulator) ([][]float32, error) {
	b := bw.next
	bw.cur = calibrate.New(accs...)
	bw.cur.Layers = []int{b}
	defer func() { bw.cur = nil }()
	out := make([][]float32, len(bw.hidden))
	for i, x := range bw.hidden {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		y := slices.Clone(x)
		if err := bw.sess.Blocks(y, 0, b, b+1); err != nil {
			return nil, fmt.Errorf("prune: block %d, sequence %d: %w", b, i, err)
		}
		out[i] = y
	}
	return out, nil
}

// advance runs the current block (as its weights now are) over every sequence's states, in
// place, and moves on to the next block. When ref is not nil (the block's outputs before it was
// changed, from collect), it returns the relative squared error of the new outputs,
// ‖Y−Ŷ‖²/‖Y‖² over all sequences.
func (bw *blockwise) advance(ctx context.Context, ref [][]float32) (float64, error) {
	b := bw.next
	var num, den float64
	for i, x := range bw.hidden {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := bw.sess.Blocks(x, 0, b, b+1); err != nil {
			return 0, fmt.Errorf("prune: block %d, sequence %d: %w", b, i, err)
		}
		if ref != nil {
			for j, v := range ref[i] {
				d := float64(v) - float64(x[j])
				num += d * d
				den += float64(v) * float64(v)
			}
		}
	}
	bw.next++
	if den == 0 {
		return 0, nil
	}
	return num / den, nil
}

// MeanNLL returns the mean negative log-likelihood, in nats, of every token of seqs after the
// first given the tokens before it: the calibration loss reported before and after pruning.
func MeanNLL(ctx context.Context, m *runtime.Model, seqs [][]int32) (float64, error) {
	longest := 0
	for _, s := range seqs {
		longest = max(longest, len(s))
	}
	if longest < 2 {
		return 0, fmt.Errorf("%w: no sequence of 2 tokens or more to score", ErrBadInput)
	}
	s, err := m.NewSession(longest)
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	vocab := m.Config().VocabSize
	total, count := 0.0, 0
	for i, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if len(seq) < 2 {
			continue
		}
		logits, err := s.Forward(seq, 0, true)
		if err != nil {
			return 0, fmt.Errorf("prune: sequence %d: %w", i, err)
		}
		for t := 0; t+1 < len(seq); t++ {
			row := logits[t*vocab : (t+1)*vocab]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = max(mx, float64(v))
			}
			sum := 0.0
			for _, v := range row {
				sum += math.Exp(float64(v) - mx)
			}
			total += mx + math.Log(sum) - float64(row[seq[t+1]])
			count++
		}
	}
	return total / float64(count), nil
}
