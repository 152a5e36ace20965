// Package runtime runs language models of the llama family (llama and mistral, qwen2, qwen3)
// stored as GGUF, in pure Go: the forward pass with a KV cache, batched prompt processing and
// sampling. Weights stay in the file's memory map and are multiplied in their stored type by
// package kernels, which works on ggml's quantized blocks directly.
//
// A Model is loaded once (Load, or FromTensors for weights held in memory) and shared by any
// number of Sessions, each with its own KV cache:
//
//	m, err := runtime.Load("model.gguf", runtime.Options{})
//	s, err := m.NewSession(2048)
//	logits, err := s.Forward(tokens, 0, false) // the last position's logits
//
// Results are deterministic: the same input gives the same bits whatever the thread count.
package runtime

import (
	"fmt"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/f32bytes"
	"github.com/mcompress/mcompress/runtime/kernels"
)

// Options configure a loaded Model. The zero value uses every core.
type Options struct {
	// Threads is the number of worker threads; 0 or less means one per CPU.
	Threads int
	// ActivationObserver, when not nil, is called with the activations entering every group
	// of weight matrices and around every block (see ActivationObserver). Nil costs nothing.
	ActivationObserver ActivationObserver
}

// Model is a loaded model: configuration, metadata and weights. It is safe for concurrent use
// by several Sessions. Close releases it; Sessions must not be used afterwards.
type Model struct {
	cfg  convert.Config
	md   gguf.Metadata
	file *gguf.File // nil for models built from memory
	pool *kernels.Pool
	size int64 // bytes of weights

	tokEmbd   kernels.Matrix
	outNorm   []float32
	output    kernels.Matrix
	tied      bool // output is the token embedding (no output.weight)
	layers    []layer
	ropeFreqs []float32 // per-pair frequency divisors (llama3 scaling), nil if none
	// ropeLong and ropeShort are LongRoPE's per-pair divisors (Phi-3): a session whose context
	// exceeds the original one uses the long factors, as llama.cpp does. Nil if none.
	ropeLong, ropeShort []float32
	fusedQKV, fusedFFN  bool // Phi-3: attn_qkv and ffn_up (gate rows then up rows) are fused

	observer   ActivationObserver   // nil unless Options.ActivationObserver is set (observe.go)
	obsWeights [][numSites][]string // per block, the weights each site feeds
}

// layer holds one transformer block's weights.
type layer struct {
	attnNorm, ffnNorm []float32
	wq, wk, wv, wo    kernels.Matrix
	bq, bk, bv        []float32 // qwen2 biases; nil if absent
	qNorm, kNorm      []float32 // qwen3 per-head norms; nil if absent
	wgate, wup, wdown kernels.Matrix
	// attnPost and ffnPost are Gemma's norms of the attention and FFN outputs; nil if absent.
	attnPost, ffnPost []float32
}

// tensorSource finds a tensor by its GGUF name: type, ggml dimensions and raw bytes.
type tensorSource func(name string) (gguf.TensorType, []uint64, []byte, bool)

// Load memory-maps the GGUF file at path and prepares its model. Weight matrices are used in
// place in the map; only the small norm vectors are copied.
func Load(path string, opts Options) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, bad(fmt.Errorf("runtime: %w", err))
	}
	cfg, err := convert.ConfigFromGGUF(f.Metadata, f.Tensors)
	if err != nil {
		f.Close()
		return nil, bad(fmt.Errorf("runtime: %s: %w", path, err))
	}
	src := func(name string) (gguf.TensorType, []uint64, []byte, bool) {
		i, ok := f.TensorIndex(name)
		if !ok {
			return 0, nil, nil, false
		}
		return f.Tensors[i].Type, f.Tensors[i].Dims, f.TensorData(i), true
	}
	m, err := build(cfg, src, len(f.Tensors), opts)
	if err != nil {
		f.Close()
		return nil, bad(fmt.Errorf("runtime: %s: %w", path, err))
	}
	m.md, m.file = f.Metadata, f
	return m, nil
}

// Tensor is one weight held in memory for FromTensors: float32 values in ggml order (Dims[0]
// is the row length, so a PyTorch [out, in] weight has Dims {in, out}).
type Tensor struct {
	Dims []int
	Data []float32
}

// FromTensors builds a model from float32 weights held in memory, named as in GGUF
// ("token_embd.weight", "blk.0.attn_q.weight", ...; see docs/RUNTIME.md). The Q and K weights
// of a llama model must be in GGUF's row order (permuted as llama.cpp's converter does). The
// data are used in place, not copied, and must not change while the model is in use.
// md may be nil; a tokenizer needs the tokenizer.* keys.
func FromTensors(cfg convert.Config, tensors map[string]Tensor, md gguf.Metadata, opts Options) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, bad(fmt.Errorf("runtime: %w", err))
	}
	src := func(name string) (gguf.TensorType, []uint64, []byte, bool) {
		t, ok := tensors[name]
		if !ok {
			return 0, nil, nil, false
		}
		dims := make([]uint64, len(t.Dims))
		n := 1
		for i, d := range t.Dims {
			dims[i] = uint64(max(d, 0))
			n *= d
		}
		if n != len(t.Data) || len(t.Data) == 0 {
			// Report through a size mismatch in build.
			return gguf.TypeF32, dims, nil, true
		}
		return gguf.TypeF32, dims, f32bytes.Of(t.Data), true
	}
	m, err := build(cfg, src, len(tensors), opts)
	if err != nil {
		return nil, bad(fmt.Errorf("runtime: %w", err))
	}
	m.md = md
	return m, nil
}

// tensorsPerLayer is the number of tensors every transformer block has at least: two norms,
// four attention and three feed-forward matrices; fusedTensorsPerLayer with Phi-3's fused
// attn_qkv and ffn_up.
const (
	tensorsPerLayer      = 9
	fusedTensorsPerLayer = 6
)

// checkLayerCount checks the block count against the tensors really present before anything
// is allocated per layer: a header claiming 2^31 layers must fail here, not run out of memory.
// nTensors is the number of tensors the file (or map) holds.
func checkLayerCount(cfg convert.Config, src tensorSource, nTensors int) error {
	per := tensorsPerLayer
	if _, _, _, ok := src("blk.0.attn_qkv.weight"); ok {
		per = fusedTensorsPerLayer
	}
	if need := int64(cfg.Layers) * int64(per); need > int64(nTensors) {
		return fmt.Errorf("block count %d needs at least %d tensors (%d a layer) but the model holds %d",
			cfg.Layers, need, per, nTensors)
	}
	last := fmt.Sprintf("blk.%d.attn_norm.weight", cfg.Layers-1)
	if _, _, _, ok := src(last); !ok {
		return fmt.Errorf("block count %d but tensor %q missing", cfg.Layers, last)
	}
	return nil
}

// build checks every tensor's presence, type and shape against cfg and assembles the Model.
// nTensors is the number of tensors src holds, which bounds the layers it can have.
func build(cfg convert.Config, src tensorSource, nTensors int, opts Options) (*Model, error) {
	if err := checkLayerCount(cfg, src, nTensors); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg}
	var err error
	matrix := func(name string, rows, cols int) kernels.Matrix {
		if err != nil {
			return kernels.Matrix{}
		}
		t, dims, data, ok := src(name)
		if !ok {
			err = fmt.Errorf("tensor %q missing", name)
			return kernels.Matrix{}
		}
		if len(dims) != 2 || dims[0] != uint64(cols) || dims[1] != uint64(rows) {
			err = fmt.Errorf("tensor %q has shape %v, want [%d %d]", name, dims, cols, rows)
			return kernels.Matrix{}
		}
		mat, e := kernels.NewMatrix(t, rows, cols, data)
		if e != nil {
			err = fmt.Errorf("tensor %q: %w", name, e)
		}
		m.size += int64(len(data))
		return mat
	}
	vector := func(name string, n int, optional bool) []float32 {
		if err != nil {
			return nil
		}
		t, dims, data, ok := src(name)
		if !ok {
			if !optional {
				err = fmt.Errorf("tensor %q missing", name)
			}
			return nil
		}
		if len(dims) != 1 || dims[0] != uint64(n) {
			err = fmt.Errorf("tensor %q has shape %v, want [%d]", name, dims, n)
			return nil
		}
		v := make([]float32, n)
		if e := kernels.DequantizeRow(t, v, data); e != nil {
			err = fmt.Errorf("tensor %q: %w", name, e)
		}
		m.size += int64(len(data))
		return v
	}
	h, q, kv, ffn, vocab := cfg.Hidden, cfg.QDim(), cfg.KVDim(), cfg.FFN, cfg.VocabSize
	m.tokEmbd = matrix("token_embd.weight", vocab, h)
	m.outNorm = vector("output_norm.weight", h, false)
	if _, _, _, ok := src("output.weight"); ok {
		m.output = matrix("output.weight", vocab, h)
	} else {
		m.output, m.tied = m.tokEmbd, true
	}
	if cfg.RopeScaling.Type == "llama3" || cfg.RopeScaling.Type == "" {
		m.ropeFreqs = vector("rope_freqs.weight", cfg.RopeDim/2, true)
	}
	if cfg.RopeScaling.Type == "longrope" {
		m.ropeLong = vector("rope_factors_long.weight", cfg.RopeDim/2, false)
		m.ropeShort = vector("rope_factors_short.weight", cfg.RopeDim/2, false)
	}
	_, _, _, m.fusedQKV = src("blk.0.attn_qkv.weight")
	_, ffnDims, _, _ := src("blk.0.ffn_up.weight")
	m.fusedFFN = len(ffnDims) == 2 && ffnDims[1] == uint64(2*ffn)
	m.layers = make([]layer, cfg.Layers)
	for i := range m.layers {
		l := &m.layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		l.attnNorm = vector(p+"attn_norm.weight", h, false)
		if m.fusedQKV {
			qkv := matrix(p+"attn_qkv.weight", q+2*kv, h)
			l.wq, l.wk, l.wv = rowsOf(qkv, 0, q), rowsOf(qkv, q, q+kv), rowsOf(qkv, q+kv, q+2*kv)
		} else {
			l.wq = matrix(p+"attn_q.weight", q, h)
			l.wk = matrix(p+"attn_k.weight", kv, h)
			l.wv = matrix(p+"attn_v.weight", kv, h)
		}
		l.wo = matrix(p+"attn_output.weight", h, q)
		l.bq = vector(p+"attn_q.bias", q, !cfg.AttentionBias)
		l.bk = vector(p+"attn_k.bias", kv, !cfg.AttentionBias)
		l.bv = vector(p+"attn_v.bias", kv, !cfg.AttentionBias)
		l.qNorm = vector(p+"attn_q_norm.weight", cfg.HeadDim, !cfg.QKNorm)
		l.kNorm = vector(p+"attn_k_norm.weight", cfg.HeadDim, !cfg.QKNorm)
		l.ffnNorm = vector(p+"ffn_norm.weight", h, false)
		if m.fusedFFN {
			up := matrix(p+"ffn_up.weight", 2*ffn, h)
			l.wgate, l.wup = rowsOf(up, 0, ffn), rowsOf(up, ffn, 2*ffn)
		} else {
			l.wgate = matrix(p+"ffn_gate.weight", ffn, h)
			l.wup = matrix(p+"ffn_up.weight", ffn, h)
		}
		l.wdown = matrix(p+"ffn_down.weight", h, ffn)
		l.attnPost = vector(p+"post_attention_norm.weight", h, !cfg.PostNorms)
		l.ffnPost = vector(p+"post_ffw_norm.weight", h, !cfg.PostNorms)
	}
	if err != nil {
		return nil, err
	}
	switch cfg.RopeScaling.Type {
	case "", "none", "linear", "llama3", "yarn", "longrope":
	default:
		return nil, fmt.Errorf("unsupported RoPE scaling %q", cfg.RopeScaling.Type)
	}
	m.pool = kernels.NewPool(opts.Threads)
	m.initObserver(opts)
	return m, nil
}

// rowsOf returns rows [r0, r1) of w as a matrix sharing its data: how the fused projections of
// Phi-3 are split into the q, k, v and gate, up matrices the forward pass multiplies (each output
// row is one weight row's dot product, so the split computes the same values).
func rowsOf(w kernels.Matrix, r0, r1 int) kernels.Matrix {
	if w.Data == nil {
		return w
	}
	rb := w.RowBytes()
	return kernels.Matrix{Type: w.Type, Rows: r1 - r0, Cols: w.Cols, Data: w.Data[r0*rb : r1*rb]}
}

// Config returns the model's configuration.
func (m *Model) Config() convert.Config { return m.cfg }

// Metadata returns the GGUF metadata (nil for a model built from memory without it).
func (m *Model) Metadata() gguf.Metadata { return m.md }

// Threads returns the number of worker threads.
func (m *Model) Threads() int { return m.pool.Threads() }

// WeightBytes returns the size of the weights in bytes, as stored.
func (m *Model) WeightBytes() int64 { return m.size }

// Close stops the worker threads and releases the memory map.
func (m *Model) Close() error {
	if m.pool != nil {
		m.pool.Close()
		m.pool = nil
	}
	if m.file != nil {
		err := m.file.Close()
		m.file = nil
		if err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
	}
	return nil
}
