package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/internal/atomicfile"
	"github.com/mcompress/mcompress/runtime"
)

func init() { register(newPerplexityCmd) }

// newPerplexityCmd is `mcompress perplexity`, the llama-perplexity look-alike.
func newPerplexityCmd(g *globalOptions) *cobra.Command {
	var (
		model, data, klBase string
		kld                 bool
		o                   eval.PerplexityOptions
		threads             int
		shardFlag, out      string
	)
	cmd := &cobra.Command{
		Use:   "perplexity -m MODEL.gguf -f TEXT [-c N] [--stride S] [--kl-divergence-base FILE [--kl-divergence]]",
		Short: "Perplexity of one model on a text, or its KL-divergence from a saved base (like llama-perplexity)",
		Long: `perplexity scores a text as llama.cpp's llama-perplexity does: the text is tokenized whole
with BOS, cut into chunks of --ctx-size tokens whose first token becomes BOS, and the second half
of every chunk is scored. It prints "PPL = X +/- Y" with llama.cpp's uncertainty.

--kl-divergence-base FILE saves the model's log-probabilities to FILE (llama.cpp's format, so
llama-perplexity can read it too); with --kl-divergence the model is instead compared against
FILE (whose tokens are used; -f is not needed) and the KL-divergence statistics are printed.
For comparing several models and writing a report use mcompress eval.`,
		Example: `  mcompress perplexity -m f16.gguf -f wiki.test.raw -c 512
  mcompress perplexity -m f16.gguf -f wiki.test.raw --kl-divergence-base f16.kld
  mcompress perplexity -m q4_k_m.gguf --kl-divergence-base f16.kld --kl-divergence
  mcompress perplexity -m q4.gguf -f valid.txt -c 512 --stride 128
  mcompress perplexity -m q4.gguf -f big.txt --shard 0/2 -o ppl-0.json   # and 1/2, then:
  mcompress merge perplexity ppl-0.json ppl-1.json`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" {
				return badInput(fmt.Errorf("give the model with -m"))
			}
			if kld && klBase == "" {
				return badInput(fmt.Errorf("--kl-divergence needs --kl-divergence-base FILE"))
			}
			if !kld && data == "" {
				return badInput(fmt.Errorf("give the text with -f"))
			}
			if !kld && klBase != "" {
				if err := atomicfile.CheckWritable(klBase); err != nil {
					return badInput(fmt.Errorf("--kl-divergence-base: %w", err))
				}
			}
			var err error
			if o.Shard, err = resolveShard(shardFlag); err != nil {
				return err
			}
			if kld && o.Shard.Source != "" {
				return badInput(fmt.Errorf("--kl-divergence cannot be sharded (%s from %s); run it whole", o.Shard, o.Shard.Source))
			}
			m, err := runtime.Load(model, runtime.Options{Threads: threads})
			if err != nil {
				return err
			}
			defer m.Close()
			rep := newReporter(g)
			progress := func(done, total int64) { rep.Update(done) }
			if kld {
				base, err := eval.OpenKLBase(klBase)
				if err != nil {
					return err
				}
				defer base.Close()
				rep.Start("kl-divergence", int64(base.Chunks), false)
				r, err := eval.KLDivergence(cmd.Context(), m, base, eval.KLDOptions{MaxChunks: o.MaxChunks, BatchSize: o.BatchSize, Progress: progress})
				rep.Finish()
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(r)
				}
				fmt.Printf("Mean PPL(Q)                   : %10.6f ± %10.6f\n", r.PPL, r.PPLUncertainty)
				fmt.Printf("Mean PPL(base)                : %10.6f ± %10.6f\n", r.BasePPL, r.BasePPLUncertainty)
				fmt.Printf("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100*r.Correlation)
				fmt.Printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", r.LnPPLRatio, r.LnPPLRatioUncertainty)
				fmt.Printf("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", r.PPLRatio, r.PPLRatioUncertainty)
				fmt.Printf("Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n\n", r.PPLDiff, r.PPLDiffUncertainty)
				fmt.Printf("Mean    KLD: %10.6f ± %10.6f\n", r.MeanKLD, r.MeanKLDUncertainty)
				d := r.KLD
				for _, row := range []struct {
					name string
					v    float64
				}{{"Maximum KLD", d.Max}, {"99.9%   KLD", d.P99_9}, {"99.0%   KLD", d.P99}, {"95.0%   KLD", d.P95}, {"90.0%   KLD", d.P90},
					{"Median  KLD", d.Median}, {"10.0%   KLD", d.P10}, {" 5.0%   KLD", d.P5}, {" 1.0%   KLD", d.P1}, {" 0.1%   KLD", d.P0_1}, {"Minimum KLD", d.Min}} {
					fmt.Printf("%s: %10.6f\n", row.name, row.v)
				}
				fmt.Printf("\nMean    Δp: %6.3f ± %5.3f %%\n", 100*r.MeanDeltaP, 100*r.MeanDeltaPUncertainty)
				fmt.Printf("RMS Δp    : %6.3f ± %5.3f %%\n", 100*r.RMSDeltaP, 100*r.RMSDeltaPUncertainty)
				fmt.Printf("Same top p: %6.3f ± %5.3f %%\n", 100*r.SameTopP, 100*r.SameTopPUncertainty)
				return nil
			}
			if o.Shard.Source != "" && out == "" {
				return badInput(fmt.Errorf("a sharded run (%s) needs -o FILE for the shard's result, which mcompress merge perplexity reads", o.Shard))
			}
			if out != "" {
				if err := atomicfile.CheckWritable(out); err != nil {
					return badInput(fmt.Errorf("-o: %w", err))
				}
			}
			text, err := eval.ReadText(data, datasets.Options{})
			if err != nil {
				return err
			}
			tokens, err := eval.Tokenize(m, text)
			if err != nil {
				return err
			}
			o.Source, o.Progress = data, progress
			rep.Start("perplexity", 0, false)
			var r *eval.PerplexityResult
			if klBase != "" {
				r, err = eval.WriteKLBase(cmd.Context(), m, tokens, klBase, o)
			} else {
				r, err = eval.Perplexity(cmd.Context(), m, tokens, o)
			}
			rep.Finish()
			if err != nil {
				return err
			}
			if out != "" {
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				if err := atomicfile.WriteFile(out, append(b, '\n')); err != nil {
					return err
				}
			}
			return printPerplexity(g, rep, r)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&model, "model", "m", "", "GGUF model")
	f.StringVarP(&data, "file", "f", "", "text file (or dataset) to score")
	f.IntVarP(&o.Context, "ctx-size", "c", eval.DefaultContext, "tokens per chunk (n_ctx)")
	f.IntVar(&o.Stride, "stride", 0, "sliding window: windows every STRIDE tokens, last STRIDE scored (0: llama.cpp chunks)")
	f.IntVar(&o.MaxChunks, "chunks", 0, "at most this many chunks (0: all)")
	f.IntVarP(&o.BatchSize, "batch-size", "b", 0, "tokens per forward micro-batch (0: runtime default)")
	f.IntVarP(&threads, "threads", "t", 0, "worker threads (0: every core)")
	f.StringVar(&klBase, "kl-divergence-base", "", "file of base log-probabilities: written, or read with --kl-divergence")
	f.BoolVar(&kld, "kl-divergence", false, "compare the model against --kl-divergence-base instead of scoring -f")
	f.StringVarP(&out, "output", "o", "", "also write the result as JSON to this file (needed with --shard: the shard's result for mcompress merge perplexity)")
	addShardFlag(f, &shardFlag)
	return cmd
}

// printPerplexity prints a perplexity result as llama-perplexity does, or as JSON.
func printPerplexity(g *globalOptions, rep *reporter, r *eval.PerplexityResult) error {
	if g.json {
		return printJSON(r)
	}
	fmt.Printf("Final estimate: PPL = %.4f +/- %.5f\n", r.PPL, r.Uncertainty)
	rep.Logf("%d chunks of %d tokens, %d tokens scored, %.1f tokens/s", r.Chunks, r.Context, r.Scored, r.TokensPerSecond)
	return nil
}
