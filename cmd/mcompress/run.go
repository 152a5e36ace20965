package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

func init() { register(newRunCmd) }

// runOptions are the flags of `run`.
type runOptions struct {
	model, prompt, promptFile, tokens string
	n, ctx, threads, topK, repeatN    int
	temp, topP, minP, repeat          float64
	seed                              uint64
}

// newRunCmd is `run -m MODEL -p PROMPT`: generate text with the pure-Go runtime.
func newRunCmd(g *globalOptions) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run -m MODEL.gguf -p PROMPT",
		Short: "Generate text from a prompt with a GGUF model (pure-Go inference)",
		Long: `run loads a GGUF model of the llama family (llama, mistral, qwen2, qwen3) through a memory map,
processes the prompt as one batch and streams the generated text to stdout until an
end-of-generation token or -n tokens. Sampling: --temp 0 is greedy; otherwise the repetition
penalty, top-k, top-p, min-p and temperature apply in llama.cpp's order, and --seed makes the
output reproducible (the same flags give the same text). Timings go to stderr; with --json
the text, the token ids and the timings are printed as one JSON object instead.`,
		Example: `  mcompress run -m model-q4_k_m.gguf -p "Once upon a time" -n 64
  mcompress run -m model.gguf -f prompt.txt --temp 0
  mcompress run -m model.gguf --tokens 1,450,4996 -n 8 --json`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error { return runGenerate(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF model file (required)")
	f.StringVarP(&o.prompt, "prompt", "p", "", "prompt text")
	f.StringVarP(&o.promptFile, "file", "f", "", "read the prompt from this file")
	f.StringVar(&o.tokens, "tokens", "", "prompt as comma-separated token ids instead of text")
	f.IntVarP(&o.n, "n-predict", "n", 128, "most tokens to generate (-1: until the context is full)")
	f.IntVarP(&o.ctx, "ctx-size", "c", 0, "context length (0: the model's, at most 4096)")
	f.IntVarP(&o.threads, "threads", "t", 0, "worker threads (0: one per CPU)")
	f.Float64Var(&o.temp, "temp", 0.8, "temperature (0: greedy)")
	f.IntVar(&o.topK, "top-k", 40, "keep the K most likely tokens (0: all)")
	f.Float64Var(&o.topP, "top-p", 0.95, "keep the most likely tokens up to this probability mass (1: all)")
	f.Float64Var(&o.minP, "min-p", 0.05, "drop tokens below this fraction of the top probability (0: none)")
	f.Float64Var(&o.repeat, "repeat-penalty", 1.0, "penalty for tokens among the last --repeat-last-n (1: none)")
	f.IntVar(&o.repeatN, "repeat-last-n", 64, "window of the repetition penalty")
	f.Uint64Var(&o.seed, "seed", 42, "random seed")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// runResult is the --json output of run.
type runResult struct {
	Model          string  `json:"model"`
	Text           string  `json:"text"`
	PromptTokens   []int32 `json:"prompt_tokens"`
	Tokens         []int32 `json:"tokens"`
	PromptPerSec   float64 `json:"prompt_tokens_per_second"`
	GeneratePerSec float64 `json:"generated_tokens_per_second"`
	Kernels        string  `json:"kernels"`
}

func runGenerate(cmd *cobra.Command, g *globalOptions, o runOptions) error {
	rep := newReporter(g)
	sources := 0
	for _, s := range []string{o.prompt, o.promptFile, o.tokens} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return badInput(errors.New("give exactly one of --prompt, --file and --tokens"))
	}
	if o.n == 0 || o.n < -1 {
		return badInput(fmt.Errorf("--n-predict %d: want a positive count or -1", o.n))
	}
	sampling := runtime.SamplerOptions{Temperature: o.temp, TopK: o.topK, TopP: o.topP, MinP: o.minP,
		RepeatPenalty: o.repeat, RepeatLastN: o.repeatN, Seed: o.seed}
	if _, err := runtime.NewSampler(sampling); err != nil {
		return err
	}
	m, err := runtime.Load(o.model, runtime.Options{Threads: o.threads})
	if err != nil {
		return err
	}
	defer m.Close()
	cfg := m.Config()
	var tok *tokenizer.Tokenizer
	if o.tokens == "" || !g.json {
		if tok, err = tokenizer.FromGGUF(m.Metadata()); err != nil && o.tokens == "" {
			return badInput(fmt.Errorf("%s: %w", o.model, err))
		}
	}
	var prompt []int32
	switch {
	case o.tokens != "":
		for _, f := range strings.Split(o.tokens, ",") {
			v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil || v < 0 || int(v) >= cfg.VocabSize {
				return badInput(fmt.Errorf("--tokens: %q is not a token id below %d", f, cfg.VocabSize))
			}
			prompt = append(prompt, int32(v))
		}
	default:
		text := o.prompt
		if o.promptFile != "" {
			b, err := os.ReadFile(o.promptFile)
			if err != nil {
				return badInput(err)
			}
			text = string(b)
		}
		if prompt, err = tok.Encode(text, tokenizer.EncodeOptions{AddSpecial: true}); err != nil {
			return badInput(err)
		}
	}
	if len(prompt) == 0 {
		return badInput(errors.New("the prompt has no tokens"))
	}
	ctxLen := o.ctx
	if ctxLen <= 0 {
		ctxLen = min(max(cfg.ContextLength, 1), 4096)
	}
	if len(prompt) >= ctxLen {
		return badInput(fmt.Errorf("prompt of %d tokens does not fit the context of %d", len(prompt), ctxLen))
	}
	s, err := m.NewSession(ctxLen)
	if err != nil {
		return err
	}
	var stop []int32
	if tok != nil {
		stop = tok.EOG()
	} else if cfg.EOS >= 0 {
		stop = []int32{int32(cfg.EOS)}
	}
	gen := runtime.GenerateOptions{
		MaxTokens: max(o.n, 0),
		Stop:      stop,
		Sampler:   sampling,
	}
	var out []int32
	var stream *tokenizer.Detokenizer
	if tok != nil {
		stream = tok.NewDetokenizer(prompt)
	}
	var w io.Writer = os.Stdout
	if g.json {
		w = io.Discard
	}
	if o.prompt != "" && !g.json {
		_, _ = io.WriteString(w, o.prompt)
	}
	start := time.Now()
	var firstAt time.Time
	_, err = s.Generate(cmd.Context(), prompt, gen, func(t int32) error {
		if firstAt.IsZero() {
			firstAt = time.Now()
		}
		out = append(out, t)
		if tok == nil {
			_, err := fmt.Fprintf(w, "%d ", t)
			return err
		}
		_, err := io.WriteString(w, stream.Next(t))
		return err
	})
	end := time.Now()
	if err != nil {
		return err
	}
	if tok != nil {
		_, _ = io.WriteString(w, stream.Flush())
	}
	if !g.json {
		fmt.Fprintln(w)
	}
	res := runResult{Model: o.model, PromptTokens: prompt, Tokens: out, Kernels: kernelsName()}
	if !firstAt.IsZero() {
		res.PromptPerSec = float64(len(prompt)) / firstAt.Sub(start).Seconds()
		if len(out) > 1 {
			res.GeneratePerSec = float64(len(out)-1) / end.Sub(firstAt).Seconds()
		}
	}
	if tok != nil {
		res.Text = stream.Text()
	}
	if g.json {
		return printJSON(res)
	}
	rep.Logf("prompt: %d tokens, %.1f tokens/s; generated: %d tokens, %.1f tokens/s (%d threads, %s)",
		len(prompt), res.PromptPerSec, len(out), res.GeneratePerSec, m.Threads(), res.Kernels)
	return nil
}
