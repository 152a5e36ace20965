package runtime

import "fmt"

// Site is a place in the forward pass where activations are observed: the input shared by a
// group of weight matrices, or the residual stream around a block.
type Site uint8

// The sites of one block, in the order of the forward pass, then the output head's.
const (
	// SiteBlockInput is the residual stream entering a block (before attn_norm).
	SiteBlockInput Site = iota
	// SiteAttnInput is the normalised input of attn_q, attn_k and attn_v.
	SiteAttnInput
	// SiteAttnOutput is the attention's output, the input of attn_output.
	SiteAttnOutput
	// SiteFFNInput is the normalised input of ffn_gate and ffn_up.
	SiteFFNInput
	// SiteFFNDown is the SwiGLU product, the input of ffn_down.
	SiteFFNDown
	// SiteBlockOutput is the residual stream leaving a block (the next block's input).
	SiteBlockOutput
	// SiteOutput is the final normalised hidden state, the input of output.weight, for the
	// rows whose logits are computed only.
	SiteOutput
	numSites
)

var siteNames = [numSites]string{"block_input", "attn_input", "attn_output", "ffn_input", "ffn_down", "block_output", "output"}

// String returns the site's name ("attn_input").
func (s Site) String() string {
	if s < numSites {
		return siteNames[s]
	}
	return fmt.Sprintf("Site(%d)", uint8(s))
}

// Activations is one observation of the forward pass: Rows activation vectors of Cols values
// each, row-major, one per token of the micro-batch (Cols is the row length of the matrices
// that multiply X, ggml's ne0).
type Activations struct {
	// Site and Layer say where X was seen. Layer is the block index; for SiteOutput it is the
	// block count (the head comes after the last block).
	Site  Site
	Layer int
	// Weights are the GGUF names of the matrices that multiply X, in the order of the forward
	// pass ("blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"); empty for
	// the block input and output. The slice is shared and must not be modified.
	Weights []string
	// X is only valid during the call and must not be modified.
	X          []float32
	Rows, Cols int
}

// ActivationObserver sees the activations of the forward pass, for tools that collect
// calibration statistics (importance matrices, pruning and GPTQ statistics, layer importance).
// It is called once per site and micro-batch, from the goroutine running Session.Forward, in
// the order of the forward pass: for each block its SiteBlockInput, SiteAttnInput,
// SiteAttnOutput, SiteFFNInput, SiteFFNDown and SiteBlockOutput, then SiteOutput when logits are
// computed. Several Sessions of one Model call it concurrently.
//
// Every weight matrix of the blocks and output.weight takes its input from exactly one site;
// matrices that share an input (attn_q, attn_k and attn_v; ffn_gate and ffn_up) are reported in
// one call. The token embedding is a lookup, not a multiplication, and is not reported.
type ActivationObserver func(a Activations)

// initObserver records the observer of opts and prepares the weight names it reports, built
// only when an observer is set, so that the forward pass formats no strings.
func (m *Model) initObserver(opts Options) {
	m.observer = opts.ActivationObserver
	if m.observer == nil {
		return
	}
	m.obsWeights = make([][numSites][]string, len(m.layers))
	for i := range m.obsWeights {
		p := fmt.Sprintf("blk.%d.", i)
		w := &m.obsWeights[i]
		w[SiteAttnInput] = []string{p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"}
		if m.fusedQKV {
			w[SiteAttnInput] = []string{p + "attn_qkv.weight"}
		}
		w[SiteAttnOutput] = []string{p + "attn_output.weight"}
		w[SiteFFNInput] = []string{p + "ffn_gate.weight", p + "ffn_up.weight"}
		if m.fusedFFN {
			w[SiteFFNInput] = []string{p + "ffn_up.weight"}
		}
		w[SiteFFNDown] = []string{p + "ffn_down.weight"}
	}
}

// outputWeights is what SiteOutput reports.
var outputWeights = []string{"output.weight"}

// observe reports x (rows of cols values) seen at site of block layer. Call sites check
// m.observer != nil first, so a model without an observer pays one comparison per site.
func (m *Model) observe(site Site, layer int, x []float32, rows, cols int) {
	a := Activations{Site: site, Layer: layer, X: x[:rows*cols], Rows: rows, Cols: cols}
	if site == SiteOutput {
		a.Weights = outputWeights
	} else {
		a.Weights = m.obsWeights[layer][site]
	}
	m.observer(a)
}

// SetActivationObserver replaces the model's activation observer (nil removes it) and returns
// the previous one, so that a tool can observe a model it was handed rather than loaded:
// calibration over an already loaded model, restoring the old observer when done. It must not
// be called while a Session of the model is running Forward.
func (m *Model) SetActivationObserver(obs ActivationObserver) ActivationObserver {
	prev := m.observer
	m.initObserver(Options{ActivationObserver: obs})
	return prev
}
