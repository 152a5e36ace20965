// Package calibrate collects activation statistics from the forward pass of package runtime,
// for the stages that need calibration data: importance matrices for quantization (imatrix),
// pruning (Wanda's column norms, SparseGPT's XᵀX, layer importance) and GPTQ (XᵀX).
//
// A Collector is the one runtime.ActivationObserver: pass its Observe method as
// runtime.Options.ActivationObserver, then run sequences through the model (Run, or any loop
// over Session.Forward). It hands every observation to its accumulators, each a thin consumer
// that keeps its own statistics:
//
//   - ColumnSquares: per weight matrix, the sum of each input column's squares and the number
//     of activation vectors (llama-imatrix's statistics, Wanda's ‖X_j‖²), as
//     quantize.ImatrixStats;
//   - Gram: per matrix input, XᵀX summed in float64 (SparseGPT, GPTQ), as quantize.Gram;
//   - BlockDistance: per block, the summed angular distance 1−cos between the hidden state
//     entering and leaving it (ShortGPT's layer importance);
//   - Capture: copies of one site's activations (a block's inputs, for block-by-block work).
//
// The statistics are plain data (sums and counts), additive and mergeable, and quantize reads
// them without importing runtime. Memory is bounded by what the accumulators are asked to keep:
// Collector.Layers restricts collection to the blocks being worked on, so a stage that
// processes the model one block at a time holds one block's statistics.
//
// Determinism: the runtime reports activations in the order of the forward pass; fed by one
// session at a time (as Run does), every statistic is one fixed sequence of additions (rows in
// order), whatever the thread count. Accumulators that spread work over cores split it by
// output element, each summed by one goroutine in row order.
package calibrate

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/mcompress/mcompress/runtime"
)

// An Accumulator consumes observations. The Collector calls Add from one goroutine at a time;
// a.X is only valid during the call and must not be modified.
type Accumulator interface {
	Add(a runtime.Activations)
}

// Collector dispatches the observations of the forward pass to its accumulators. It is safe
// for concurrent use, but statistics are deterministic only when fed by one session at a time:
// calls from concurrent sessions are serialised in arrival order, and BlockDistance pairs a
// block's input with the next output it sees.
type Collector struct {
	// Layers, when not nil, restricts collection to these blocks; the output head
	// (runtime.SiteOutput) is layer Config.Layers. Set it before the first observation.
	Layers []int

	mu   sync.Mutex
	accs []Accumulator
}

// New returns a collector feeding accs, in that order.
func New(accs ...Accumulator) *Collector {
	return &Collector{accs: accs}
}

// Observe hands a to every accumulator. It has the signature of runtime.ActivationObserver.
func (c *Collector) Observe(a runtime.Activations) {
	if c.Layers != nil && !slices.Contains(c.Layers, a.Layer) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, acc := range c.accs {
		acc.Add(a)
	}
}

// RunOptions control Run.
type RunOptions struct {
	// BatchSize is the runtime's micro-batch (0: the runtime's default).
	BatchSize int
	// Logits asks for every position's logits, so that SiteOutput is observed for every
	// token; by default only the last token's are computed.
	Logits bool
	// Progress, when not nil, is called after each sequence.
	Progress func(done, total int64)
}

// Run evaluates each sequence of seqs from position 0 on one session of m, in order, so that
// a collector observing m sees every token once. m must have been loaded with the collector's
// Observe as its ActivationObserver.
func Run(ctx context.Context, m *runtime.Model, seqs [][]int32, o RunOptions) error {
	longest := 0
	for _, s := range seqs {
		longest = max(longest, len(s))
	}
	if longest == 0 {
		return fmt.Errorf("calibrate: no tokens to run")
	}
	s, err := m.NewSession(longest)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	s.BatchSize = o.BatchSize
	for i, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(seq) == 0 {
			continue
		}
		if _, err := s.Forward(seq, 0, o.Logits); err != nil {
			return fmt.Errorf("calibrate: sequence %d: %w", i, err)
		}
		if o.Progress != nil {
			o.Progress(int64(i+1), int64(len(seqs)))
		}
	}
	return nil
}
