package quantize

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mcompress/mcompress/convert/gguf"
)

// memSource is an in-memory Source for tests.
type memSource struct {
	md    gguf.Metadata
	infos []gguf.TensorInfo
	data  [][]byte
	reads []int // indices requested, in order
}

func (m *memSource) Metadata() gguf.Metadata    { return m.md }
func (m *memSource) Tensors() []gguf.TensorInfo { return m.infos }
func (m *memSource) TensorData(i int) ([]byte, error) {
	m.reads = append(m.reads, i)
	if m.data == nil || m.data[i] == nil {
		return nil, fmt.Errorf("tensor %d has no data", i)
	}
	return m.data[i], nil
}

// llamaShape describes a synthetic llama-family model.
type llamaShape struct {
	layers, hidden, heads, kvHeads, ffn, vocab int
	tied                                       bool
	experts                                    int
}

// llamaMetadata returns the GGUF metadata of a llama model of shape s.
func llamaMetadata(s llamaShape) gguf.Metadata {
	md := gguf.Metadata{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: "synthetic"},
		{Key: "general.file_type", Value: uint32(0)},
		{Key: "llama.block_count", Value: uint32(s.layers)},
		{Key: "llama.embedding_length", Value: uint32(s.hidden)},
		{Key: "llama.attention.head_count", Value: uint32(s.heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(s.kvHeads)},
		{Key: "general.quantization_version", Value: uint32(2)},
		{Key: "tokenizer.ggml.model", Value: "llama"},
	}
	if s.experts > 0 {
		md = append(md, gguf.KV{Key: "llama.expert_count", Value: uint32(s.experts)})
	}
	return md
}

// llamaTensors returns the tensor descriptions of a llama model in convert_hf_to_gguf's order.
func llamaTensors(s llamaShape) []gguf.TensorInfo {
	kv := s.hidden / s.heads * s.kvHeads
	var out []gguf.TensorInfo
	add := func(name string, dims ...uint64) {
		out = append(out, gguf.TensorInfo{Name: name, Type: gguf.TypeF32, Dims: dims})
	}
	h, f, v := uint64(s.hidden), uint64(s.ffn), uint64(s.vocab)
	if !s.tied {
		add("output.weight", h, v)
	}
	add("token_embd.weight", h, v)
	for l := 0; l < s.layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", h)
		add(p+"ffn_down.weight", f, h)
		add(p+"ffn_gate.weight", h, f)
		add(p+"ffn_up.weight", h, f)
		add(p+"ffn_norm.weight", h)
		add(p+"attn_k.weight", h, uint64(kv))
		add(p+"attn_output.weight", h, h)
		add(p+"attn_q.weight", h, h)
		add(p+"attn_v.weight", h, uint64(kv))
	}
	add("output_norm.weight", h)
	return out
}

// newLlamaSource builds a synthetic llama model with weight-like F32 data (seeded).
func newLlamaSource(s llamaShape, seed uint64) *memSource {
	m := &memSource{md: llamaMetadata(s), infos: llamaTensors(s)}
	r := &rng{s: seed}
	for _, t := range m.infos {
		b := make([]byte, t.Size())
		for i := 0; i < len(b); i += 4 {
			v := 0.02 * r.normal()
			if len(t.Dims) == 1 {
				v = 1 + 0.1*r.normal()
			}
			binary.LittleEndian.PutUint32(b[i:], math.Float32bits(v))
		}
		m.data = append(m.data, b)
	}
	return m
}
