package eval

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// ReadText reads the evaluation text at path. A plain-text file is taken whole and unchanged,
// as llama.cpp's -f reads it. Any other dataset that package datasets opens (JSON Lines,
// Parquet, Arrow, a Hugging Face folder) gives the Text of every record (opts.TextColumn picks
// the column), joined by a blank line ("\n\n").
//
// Every error it returns wraps ErrBadInput.
func ReadText(path string, opts datasets.Options) (string, error) {
	s, err := readText(path, opts)
	if err != nil {
		return "", bad(err)
	}
	return s, nil
}

// readText is ReadText without the marking of its errors.
func readText(path string, opts datasets.Options) (string, error) {
	format := opts.Format
	if format == datasets.FormatAuto {
		if st, err := os.Stat(path); err == nil && !st.IsDir() {
			if f, err := datasets.SniffFile(path); err == nil {
				format = f
			}
		}
	}
	if format == datasets.FormatText {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("eval: %w", err)
		}
		if len(b) == 0 {
			return "", fmt.Errorf("eval: %s: empty text: %w", path, datasets.ErrEmpty)
		}
		return string(b), nil
	}
	r, err := datasets.Open(path, opts)
	if err != nil {
		return "", fmt.Errorf("eval: %w", err)
	}
	defer r.Close()
	var sb strings.Builder
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("eval: %w", err)
		}
		if rec.Text == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteString("\n\n")
		}
		sb.WriteString(rec.Text)
	}
	if sb.Len() == 0 {
		return "", fmt.Errorf("eval: %s: no text in any record: %w", path, datasets.ErrEmpty)
	}
	return sb.String(), nil
}

// Tokenize encodes text with the model's own tokenizer (from its GGUF metadata) the way
// llama.cpp's perplexity and imatrix tools do: with the BOS token when the vocabulary asks for
// one (add_special), without parsing special-token text.
func Tokenize(m *runtime.Model, text string) ([]int32, error) {
	tok, err := tokenizer.FromGGUF(m.Metadata())
	if err != nil {
		return nil, bad(fmt.Errorf("eval: %w", err))
	}
	ids, err := tok.Encode(text, tokenizer.EncodeOptions{AddSpecial: true})
	if err != nil {
		return nil, bad(fmt.Errorf("eval: tokenizing: %w", err))
	}
	return ids, nil
}

// chunkBOS returns the token that replaces the first token of every chunk: the model's BOS
// when its vocabulary adds one (tokenizer.ggml.add_bos_token), else -1 (no replacement).
// A model without tokenizer metadata uses its configured BOS, if any.
func chunkBOS(m *runtime.Model) int32 {
	if m.Metadata() != nil {
		if tok, err := tokenizer.FromGGUF(m.Metadata()); err == nil {
			if tok.AddBOS() && tok.BOS() >= 0 {
				return tok.BOS()
			}
			return -1
		}
	}
	if b := m.Config().BOS; b >= 0 {
		return int32(b)
	}
	return -1
}
