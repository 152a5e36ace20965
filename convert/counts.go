package convert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// tensorShape is what checkCounts needs of a tensor: its GGUF name and dimensions (row length
// first), and the name and shape errors show (the checkpoint's, in PyTorch order, for a Hugging
// Face tensor).
type tensorShape struct {
	name, label string
	dims        []uint64
	shown       []int64
}

// countKeys name the fields a count comes from, for the error messages.
type countKeys struct {
	layers, vocab, hidden, heads, kvHeads, headDim string
}

// hfCountKeys are config.json's field names.
var hfCountKeys = countKeys{"num_hidden_layers", "vocab_size", "hidden_size", "num_attention_heads", "num_key_value_heads", "head dimension"}

// ggufCountKeys are the metadata keys of a GGUF file's counts (as ConfigFromGGUF reads them).
func ggufCountKeys(md gguf.Metadata, arch string) countKeys {
	vocab := arch + ".vocab_size"
	if _, ok := md.Uint(vocab); !ok {
		vocab = "the length of tokenizer.ggml.tokens"
	}
	return countKeys{arch + ".block_count", vocab, arch + ".embedding_length",
		arch + ".attention.head_count", arch + ".attention.head_count_kv", "head dimension"}
}

// checkCounts checks the counts a header gives (config.json or GGUF metadata, at path) against
// the tensors the file really holds, before anything is sized by them: every layer below the
// block count has tensors, the token embedding (and output) has vocabulary-size rows of
// hidden-size values, and the attention matrices have heads × head-dimension rows. A vocab_size
// above the tokenizer's size is legitimate (the vocabulary is padded with [PADn] tokens, as
// llama.cpp does) only because the embedding has that many rows. Errors wrap ErrBadInput.
func checkCounts(path string, c Config, tensors []tensorShape, keys countKeys) error {
	byName := make(map[string]tensorShape, len(tensors))
	blocks := map[int]bool{}
	for _, t := range tensors {
		byName[t.name] = t
		if rest, ok := strings.CutPrefix(t.name, "blk."); ok {
			num, _, _ := strings.Cut(rest, ".")
			if b, err := strconv.Atoi(num); err == nil && b >= 0 {
				blocks[b] = true
			}
		}
	}
	missing := 0
	for blocks[missing] {
		missing++
	}
	if missing != c.Layers || len(blocks) != c.Layers {
		return fmt.Errorf("%w: %s: %s is %d but there are tensors for %d layers (none for layer %d)",
			ErrBadInput, path, keys.layers, c.Layers, len(blocks), missing)
	}
	for _, name := range []string{"token_embd.weight", "output.weight"} {
		t, ok := byName[name]
		if !ok {
			continue
		}
		if len(t.dims) != 2 || t.dims[0] != uint64(c.Hidden) {
			return fmt.Errorf("%w: %s: %s is %d but %s has shape %v",
				ErrBadInput, path, keys.hidden, c.Hidden, t.label, t.shown)
		}
		if t.dims[1] != uint64(c.VocabSize) {
			return fmt.Errorf("%w: %s: %s is %d but %s has %d rows",
				ErrBadInput, path, keys.vocab, c.VocabSize, t.label, t.dims[1])
		}
	}
	for l := range c.Layers {
		for _, m := range []struct {
			name, key string
			heads     int
		}{{"attn_q", keys.heads, c.Heads}, {"attn_k", keys.kvHeads, c.KVHeads}} {
			t, ok := byName[fmt.Sprintf("blk.%d.%s.weight", l, m.name)]
			if !ok {
				continue
			}
			if want := uint64(m.heads) * uint64(c.HeadDim); len(t.dims) != 2 || t.dims[1] != want {
				return fmt.Errorf("%w: %s: %s %d × %s %d is %d rows but %s has shape %v",
					ErrBadInput, path, m.key, m.heads, keys.headDim, c.HeadDim, want, t.label, t.shown)
			}
		}
	}
	return nil
}

// ggufShapes lists the shapes of a GGUF file's tensors for checkCounts.
func ggufShapes(tensors []gguf.TensorInfo) []tensorShape {
	out := make([]tensorShape, len(tensors))
	for i, t := range tensors {
		shown := make([]int64, len(t.Dims))
		for j, d := range t.Dims {
			shown[j] = int64(d)
		}
		out[i] = tensorShape{name: t.Name, label: t.Name, dims: t.Dims, shown: shown}
	}
	return out
}
