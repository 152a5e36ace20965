package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/runtime/tokenizer"
)

func init() { register(newTokenizeCmd) }

// tokenizeOptions are the flags of `tokenize`.
type tokenizeOptions struct {
	model        string
	prompt       string
	promptSet    bool
	file         string
	stdin        bool
	ids          bool
	noBOS        bool
	parseSpecial bool
	showCount    bool
	escape       bool
}

// tokenizeResult is tokenize's --json output.
type tokenizeResult struct {
	Model  string   `json:"model"`
	Kind   string   `json:"kind"`
	Pre    string   `json:"pre,omitempty"`
	AddBOS bool     `json:"add_bos"`
	Count  int      `json:"count"`
	IDs    []int32  `json:"ids"`
	Pieces []string `json:"pieces,omitempty"`
}

// newTokenizeCmd is `tokenize -m MODEL -p TEXT`: the model's token ids of a text, like
// llama-tokenize.
func newTokenizeCmd(g *globalOptions) *cobra.Command {
	var o tokenizeOptions
	cmd := &cobra.Command{
		Use:   "tokenize -m MODEL.gguf (-p TEXT | -f FILE | --stdin)",
		Short: "Print the token ids (and pieces) of a text with a model's tokenizer, like llama-tokenize",
		Long: `tokenize reads the tokenizer of a GGUF file (SentencePiece or byte-level BPE, from the
tokenizer.ggml.* metadata) and prints one line per token: its id and its piece, as llama.cpp's
llama-tokenize does. The model's BOS token is added when the model asks for it (add_bos_token),
unless --no-bos; --parse-special turns the text of control tokens such as <|im_start|> into those
tokens. --ids prints only the ids, as a list. With --json the result is one JSON object.
Only the metadata is read, so a full model file works as well as a vocabulary-only one.`,
		Example: `  mcompress tokenize -m model.gguf -p "Hello world"
  mcompress tokenize -m model.gguf -f prompt.txt --ids
  echo "<|im_start|>user" | mcompress tokenize -m qwen.gguf --stdin --parse-special --show-count
  mcompress tokenize -m model.gguf -p 'a\nb' --escape --no-bos --json`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.promptSet = cmd.Flags().Changed("prompt")
			return runTokenize(g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF file whose tokenizer to use (required)")
	f.StringVarP(&o.prompt, "prompt", "p", "", "text to tokenize")
	f.StringVarP(&o.file, "file", "f", "", "read the text from this file")
	f.BoolVar(&o.stdin, "stdin", false, "read the text from standard input")
	f.BoolVar(&o.ids, "ids", false, "print only the token ids, as [id, id, ...]")
	f.BoolVar(&o.noBOS, "no-bos", false, "do not add the BOS (and EOS) tokens the model asks for")
	f.BoolVar(&o.parseSpecial, "parse-special", false, "turn the text of control tokens into those tokens")
	f.BoolVar(&o.showCount, "show-count", false, "print the number of tokens at the end")
	f.BoolVarP(&o.escape, "escape", "e", false, `process escapes (\n, \r, \t, \', \", \\) in the text first`)
	return cmd
}

func runTokenize(g *globalOptions, o tokenizeOptions) error {
	if o.model == "" {
		return badInput(errors.New("tokenize: give the model with -m MODEL.gguf"))
	}
	sources := 0
	for _, set := range []bool{o.promptSet, o.file != "", o.stdin} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return badInput(errors.New("tokenize: give exactly one of -p TEXT, -f FILE or --stdin"))
	}
	text := o.prompt
	switch {
	case o.file != "":
		b, err := os.ReadFile(o.file)
		if err != nil {
			return badInput(fmt.Errorf("tokenize: %w", err))
		}
		text = string(b)
	case o.stdin:
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return fmt.Errorf("tokenize: reading standard input: %w", err)
		}
		text = string(b)
	}
	if o.escape {
		text = processEscapes(text)
	}
	tok, err := tokenizer.Open(o.model)
	if err != nil {
		return badInput(err)
	}
	ids, err := tok.Encode(text, tokenizer.EncodeOptions{
		AddSpecial:   tok.AddBOS() && !o.noBOS,
		ParseSpecial: o.parseSpecial,
	})
	if err != nil {
		return badInput(err)
	}
	if g.json {
		res := tokenizeResult{Model: o.model, Kind: tok.Kind().String(), Pre: tok.Pre(), AddBOS: tok.AddBOS() && !o.noBOS, Count: len(ids), IDs: ids}
		if res.IDs == nil {
			res.IDs = []int32{}
		}
		if !o.ids {
			for _, id := range ids {
				res.Pieces = append(res.Pieces, tok.Piece(id))
			}
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // keep <|im_end|> readable
		return enc.Encode(res)
	}
	w := bufio.NewWriter(os.Stdout)
	if o.ids {
		w.WriteString("[")
		for i, id := range ids {
			if i > 0 {
				w.WriteString(", ")
			}
			fmt.Fprintf(w, "%d", id)
		}
		w.WriteString("]\n")
	} else {
		for _, id := range ids {
			fmt.Fprintf(w, "%6d -> '%s'\n", id, tok.Piece(id))
		}
	}
	if o.showCount {
		fmt.Fprintf(w, "Total number of tokens: %d\n", len(ids))
	}
	return w.Flush()
}

// processEscapes replaces \n \r \t \' \" \\ (and \xHH) as llama.cpp's string_process_escapes
// does; other backslashes stay.
func processEscapes(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '\'', '"', '\\':
			b.WriteByte(s[i])
		case 'x':
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
				i += 2
				break
			}
			b.WriteString(`\x`)
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
