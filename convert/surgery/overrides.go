// Package surgery changes the shape of a model in GGUF space: configuration overrides that give a
// smaller (or larger) Config, layer maps from a new model's blocks to an old one's, and slicing
// of weights by kept indices (rows, columns, whole attention heads within their GQA groups).
//
// Plain data in, plain data out: it reads and writes no files and knows no training or runtime.
// distill uses it to initialise a student from its teacher; a pruner calls the same functions to
// cut heads, MLP channels, hidden channels and blocks. Tensors are in PyTorch order ([out, in],
// row-major), the memory layout of GGUF. The Q and K rows of llama models are permuted within
// each head in GGUF space, so slicing whole heads (HeadRows) keeps RoPE intact; slicing inside
// a head does not.
package surgery

import (
	"fmt"

	"github.com/mcompress/mcompress/convert"
)

// Overrides change the dimensions of a configuration; zero fields keep the base value.
type Overrides struct {
	Layers, Hidden, Heads, KVHeads, HeadDim, FFN int
	// Tied, when not nil, ties (true) or unties (false) the output projection to the embedding.
	Tied *bool
}

// Apply returns c with the overrides applied. Changing the width or the head count without
// giving HeadDim recomputes it as Hidden/Heads (a pruner that keeps whole heads gives HeadDim);
// changing Heads without KVHeads keeps c's group size (query heads per KV head) when it divides
// the new count, else uses no grouping. RopeDim follows HeadDim. The result is not validated:
// see ApplyValid.
func (o Overrides) Apply(c convert.Config) convert.Config {
	oldHeads := c.Heads
	if o.Layers > 0 {
		c.Layers = o.Layers
	}
	if o.Hidden > 0 {
		c.Hidden = o.Hidden
	}
	if o.Heads > 0 {
		c.Heads = o.Heads
	}
	if o.KVHeads > 0 {
		c.KVHeads = o.KVHeads
	} else if o.Heads > 0 && oldHeads > 0 && c.KVHeads > 0 {
		if g := oldHeads / c.KVHeads; g > 0 && o.Heads%g == 0 {
			c.KVHeads = o.Heads / g
		} else {
			c.KVHeads = o.Heads
		}
	}
	if o.HeadDim > 0 {
		c.HeadDim = o.HeadDim
	} else if (o.Hidden > 0 || o.Heads > 0) && c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if o.FFN > 0 {
		c.FFN = o.FFN
	}
	if o.Tied != nil {
		c.TiedEmbeddings = *o.Tied
	}
	c.RopeDim = c.HeadDim
	return c
}

// ApplyValid is Apply followed by Config.Validate: it returns the new configuration, or an
// error saying which overrides give an inconsistent one (and c unchanged).
func (o Overrides) ApplyValid(c convert.Config) (convert.Config, error) {
	n := o.Apply(c)
	if err := n.Validate(); err != nil {
		return c, fmt.Errorf("surgery: overrides %s: %w", o, err)
	}
	return n, nil
}

// IsZero reports whether no override is set.
func (o Overrides) IsZero() bool { return o == Overrides{} }

// String lists the overrides that are set, as "layers=2 heads=4".
func (o Overrides) String() string {
	s := ""
	add := func(name string, v int) {
		if v > 0 {
			if s != "" {
				s += " "
			}
			s += fmt.Sprintf("%s=%d", name, v)
		}
	}
	add("layers", o.Layers)
	add("hidden", o.Hidden)
	add("heads", o.Heads)
	add("kv_heads", o.KVHeads)
	add("head_dim", o.HeadDim)
	add("ffn", o.FFN)
	if o.Tied != nil {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("tied=%t", *o.Tied)
	}
	if s == "" {
		return "(none)"
	}
	return s
}
