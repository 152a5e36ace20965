package runtime

import "fmt"

// ActivationObserver sees the input of every weight-matrix multiplication of the forward pass,
// for tools that collect activation statistics (an importance matrix for quantization, outlier
// studies). weight is the GGUF name of the matrix ("blk.0.attn_q.weight", "output.weight"); x
// holds rows activation vectors of cols values each, row-major, one per token of the
// micro-batch (cols is the matrix's row length, ggml's ne0). x is only valid during the call
// and must not be modified. Calls come from the goroutine running Session.Forward, in the
// order of the forward pass; several Sessions of one Model call it concurrently.
//
// Matrices that share an input (attn_q, attn_k and attn_v; ffn_gate and ffn_up) are reported
// once each with the same x. output.weight sees only the rows whose logits are computed.
// The token embedding is a lookup, not a multiplication, and is not reported.
type ActivationObserver func(weight string, x []float32, rows, cols int)

// layerNames holds the GGUF names of one block's weight matrices, built only when an observer
// is set, so that the forward pass formats no strings.
type layerNames struct {
	q, k, v, o, gate, up, down string
}

// initObserver records the observer of opts and prepares the names it is called with.
func (m *Model) initObserver(opts Options) {
	m.observer = opts.ActivationObserver
	if m.observer == nil {
		return
	}
	m.obsNames = make([]layerNames, len(m.layers))
	for i := range m.obsNames {
		p := fmt.Sprintf("blk.%d.", i)
		m.obsNames[i] = layerNames{
			q: p + "attn_q.weight", k: p + "attn_k.weight", v: p + "attn_v.weight",
			o: p + "attn_output.weight", gate: p + "ffn_gate.weight", up: p + "ffn_up.weight",
			down: p + "ffn_down.weight",
		}
	}
}

// observe reports x (rows of cols values) as the input of each named weight. Call sites check
// m.observer != nil first, so a model without an observer pays one comparison per matmul group.
func (m *Model) observe(x []float32, rows, cols int, names ...string) {
	x = x[:rows*cols]
	for _, n := range names {
		m.observer(n, x, rows, cols)
	}
}
