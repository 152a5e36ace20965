package calibrate

import (
	"context"
	"fmt"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
)

// GPTQOptions configure GPTQ.
type GPTQOptions struct {
	// Types gives the output type of every weight matrix to quantize, by GGUF name (the
	// quantize plan's choice); matrices not in it are left in float.
	Types map[string]gguf.TensorType
	// Imatrix, when not nil, gives importance weights (one per column) by weight name for the
	// block fits; without them GPTQ weights the fits by diag(XᵀX).
	Imatrix map[string][]float32
	// Method configures the per-matrix algorithm.
	Method quantize.GPTQOptions
	// Run configures the calibration passes.
	Run RunOptions
	// Sequential quantizes a block's inputs one at a time in forward order (attention input,
	// attention output, feed-forward input, feed-forward down), collecting each input's XᵀX
	// again after the matrices before it are quantized ("true sequential": four passes per
	// block instead of one).
	Sequential bool
	// Threads is the runtime's thread count (0: all cores).
	Threads int
	// Progress, when not nil, is called after each block with the blocks done and the total.
	Progress func(done, total int64)
}

// The GGUF names of the output head and the token embeddings (which a tied head reuses; GPTQ
// leaves it alone, since the embedding lookup would see the head's compensation as error).
const (
	outputWeight = "output.weight"
	tokenEmbd    = "token_embd.weight"
)

// GPTQ quantizes the linear layers of every transformer block with quantize.GPTQ, one block at
// a time: for block b it builds a model over tensors (float32 weights in GGUF names, as
// runtime.FromTensors takes them) whose blocks before b already hold their quantized values,
// runs seqs through it collecting only block b's XᵀX (one Gram per matrix input), quantizes
// block b's matrices, and replaces their Data in tensors, in place, by the decoded quantized
// weights, so that the next block calibrates on the inputs the quantized model produces. Memory
// beyond the weights is one block's Grams. When Types names the output head (output.weight,
// not tied to the embeddings), it is quantized last the same way, from the final hidden
// states of every position. It returns the encoded bytes by weight name.
func GPTQ(ctx context.Context, cfg convert.Config, tensors map[string]runtime.Tensor, seqs [][]int32, o GPTQOptions) (map[string][]byte, error) {
	out := map[string][]byte{}
	layers := cfg.Layers
	if _, ok := o.Types[outputWeight]; ok {
		layers++ // the output head is observed as layer cfg.Layers
	}
	for b := range layers {
		// The first pass collects every input of the block; with Sequential, each later input
		// is collected again after the matrices before it are quantized.
		var pending []*quantize.Gram
		for first := true; first || len(pending) > 0; first = false {
			var sel func(string) bool
			if !first {
				next := pending[0].Weights[0]
				sel = func(w string) bool { return w == next }
			}
			grams, err := o.collect(ctx, cfg, tensors, seqs, b, sel)
			if err != nil {
				return nil, err
			}
			if first {
				pending = grams
			} else {
				pending[0] = grams[0]
			}
			n := len(pending)
			if o.Sequential {
				n = 1
			}
			for _, g := range pending[:n] {
				if err := o.quantizeInput(g, tensors, out); err != nil {
					return nil, err
				}
			}
			pending = pending[n:]
		}
		if o.Progress != nil {
			o.Progress(int64(b+1), int64(layers))
		}
	}
	return out, nil
}

// collect runs seqs through a model over tensors collecting the Grams of block b (or, when b
// is cfg.Layers, of the output head), only those of the weights sel accepts when sel is set.
func (o GPTQOptions) collect(ctx context.Context, cfg convert.Config, tensors map[string]runtime.Tensor, seqs [][]int32, b int, sel func(string) bool) ([]*quantize.Gram, error) {
	grams := &Gram{Threads: o.Threads, Select: func(w string) bool { return w != tokenEmbd && (sel == nil || sel(w)) }}
	col := New(grams)
	col.Layers = []int{b}
	m, err := runtime.FromTensors(cfg, tensors, nil, runtime.Options{Threads: o.Threads, ActivationObserver: col.Observe})
	if err != nil {
		return nil, fmt.Errorf("gptq: block %d: %w", b, err)
	}
	ro := o.Run
	ro.Logits = ro.Logits || b == cfg.Layers
	err = Run(ctx, m, seqs, ro)
	m.Close()
	if err != nil {
		return nil, fmt.Errorf("gptq: block %d: %w", b, err)
	}
	gs := grams.Grams()
	if sel != nil && len(gs) != 1 {
		return nil, fmt.Errorf("gptq: block %d: %d inputs observed for one weight", b, len(gs))
	}
	return gs, nil
}

// quantizeInput quantizes with GPTQ every matrix of o.Types that takes the input g, replacing
// its float weights by the decoded values and recording its bytes in out.
func (o GPTQOptions) quantizeInput(g *quantize.Gram, tensors map[string]runtime.Tensor, out map[string][]byte) error {
	for _, name := range g.Weights {
		t, ok := o.Types[name]
		if !ok {
			continue
		}
		w, ok := tensors[name]
		if !ok || len(w.Dims) != 2 || w.Dims[0] != g.N {
			return fmt.Errorf("gptq: %s: no %d-column matrix for its calibration input", name, g.N)
		}
		c, ok := quantize.Lookup(t)
		if !ok {
			return fmt.Errorf("gptq: %s: no codec for %s", name, t)
		}
		dst := make([]byte, w.Dims[1]*(g.N/c.BlockSize()*c.TypeSize()))
		if _, err := quantize.GPTQ(t, dst, w.Data, g.N, g.Sum, o.Imatrix[name], o.Method); err != nil {
			return fmt.Errorf("gptq: %s: %w", name, err)
		}
		if err := quantize.Dequantize(t, w.Data, dst); err != nil {
			return fmt.Errorf("gptq: %s: %w", name, err)
		}
		out[name] = dst
	}
	return nil
}
