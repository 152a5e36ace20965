package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mcompress/mcompress/distill"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/internal/atomicfile"
	"github.com/mcompress/mcompress/internal/shard"
)

func init() { register(newMergeCmd) }

// shardHelp describes --shard for every command that takes it.
const shardHelp = "run only part INDEX/COUNT of the work (0-based; default: from JOB_COMPLETION_INDEX+MCOMPRESS_SHARD_COUNT, SLURM_ARRAY_TASK_ID/_COUNT, AWS_BATCH_JOB_ARRAY_INDEX/_SIZE or CLOUD_RUN_TASK_INDEX/_COUNT; see docs/SCALING.md)"

// addShardFlag adds --shard to a command's flags.
func addShardFlag(f *pflag.FlagSet, v *string) { f.StringVar(v, "shard", "", shardHelp) }

// resolveShard returns the shard from --shard's value or the batch system's environment; a bad
// value is bad input.
func resolveShard(flag string) (shard.Shard, error) {
	s, err := shard.Resolve(flag, os.Getenv)
	if err != nil {
		return s, badInput(err)
	}
	return s, nil
}

// newMergeCmd is `mcompress merge`, which joins the outputs of sharded runs.
func newMergeCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "merge KIND INPUT... -o OUTPUT",
		Short: "Merge the outputs of sharded runs (--shard I/N) into one run's output",
		Long: `merge joins what the shards of a job wrote, in shard order, into the file one process
would have written. See docs/SCALING.md.`,
		// A parent command: a word that names no kind is an error (exit 2), not help.
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return badInput(fmt.Errorf("%s: unknown kind %q; see '%s --help'", cmd.CommandPath(), a[0], cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var out string
	im := &cobra.Command{
		Use:   "imatrix PART.gguf... -o imatrix.gguf",
		Short: "Merge imatrix files (sums and counts added, as llama-imatrix --in-file does)",
		Long: `merge imatrix adds the statistics of imatrix files as llama-imatrix --in-file does: sums
and counts of each weight, chunk counts, datasets appended in the order given. Shards written by
mcompress imatrix --shard keep their exact sums beside them (FILE.sums); when every input has
them, the result is byte-identical to one run over all the chunks. Files from llama-imatrix
merge too, with float32 sums as llama-imatrix adds them.`,
		Example: `  mcompress merge imatrix part-0.gguf part-1.gguf part-2.gguf -o imatrix.gguf`,
		Args:    wantArgs(1, -1, "the imatrix files"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := atomicfile.CheckWritable(out); err != nil {
				return badInput(err)
			}
			stats, state, err := eval.MergeImatrix(args)
			if err != nil {
				return err
			}
			if err := eval.WriteMergedImatrix(out, stats, state); err != nil {
				return err
			}
			res := struct {
				Output  string `json:"output"`
				Inputs  int    `json:"inputs"`
				Entries int    `json:"entries"`
				Chunks  int    `json:"chunks"`
				Exact   bool   `json:"exact"`
			}{out, len(args), len(stats.Entries), stats.ChunkCount, state != nil}
			if g.json {
				return printJSON(res)
			}
			how := "exact sums"
			if !res.Exact {
				how = "float32 sums, as llama-imatrix --in-file (some input had no .sums file)"
			}
			fmt.Printf("wrote %s: %d files, %d matrices, %d chunks (%s)\n", out, res.Inputs, res.Entries, res.Chunks, how)
			return nil
		},
	}
	im.Flags().StringVarP(&out, "output", "o", "imatrix.gguf", "output file")
	var pplOut string
	ppl := &cobra.Command{
		Use:   "perplexity SHARD.json... [-o merged.json]",
		Short: "Merge the shards of a perplexity run (mcompress perplexity --shard I/N -o SHARD.json)",
		Long: `merge perplexity joins the results of a perplexity run's shards, in any order, into the
result one process computes over all the chunks: the same PPL and uncertainty, bit for bit.
Every chunk must be covered once.`,
		Example: `  mcompress merge perplexity ppl-0.json ppl-1.json ppl-2.json`,
		Args:    wantArgs(1, -1, "the shards' JSON files"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pplOut != "" {
				if err := atomicfile.CheckWritable(pplOut); err != nil {
					return badInput(err)
				}
			}
			parts := make([]*eval.PerplexityResult, len(args))
			for i, a := range args {
				var err error
				if parts[i], err = eval.ReadPerplexityShard(a); err != nil {
					return err
				}
			}
			r, err := eval.MergePerplexity(parts, args)
			if err != nil {
				return err
			}
			if pplOut != "" {
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				if err := atomicfile.WriteFile(pplOut, append(b, '\n')); err != nil {
					return err
				}
			}
			return printPerplexity(g, newReporter(g), r)
		},
	}
	ppl.Flags().StringVarP(&pplOut, "output", "o", "", "also write the merged result as JSON to this file")
	var cacheOut string
	cache := &cobra.Command{
		Use:   "cache PART.topk... -o FILE.topk",
		Short: "Merge the teacher caches of a sharded 'distill cache' build",
		Long: `merge cache joins the caches that the shards of one 'mcompress distill cache --shard I/N'
build wrote, in any order, into the cache one process would have written, byte for byte. Every
shard must be given once.`,
		Example: `  mcompress merge cache part-0.topk part-1.topk -o train.topk`,
		Args:    wantArgs(1, -1, "the shards' cache files"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cacheOut == "" {
				return badInput(fmt.Errorf("give the output with -o"))
			}
			if err := atomicfile.CheckWritable(cacheOut); err != nil {
				return badInput(err)
			}
			info, err := distill.MergeCaches(cacheOut, args)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(info)
			}
			fmt.Printf("wrote %s: %d shards, %d train and %d valid sequences\n", cacheOut, len(args), info.Splits["train"].Sequences, info.Splits["valid"].Sequences)
			return nil
		},
	}
	cache.Flags().StringVarP(&cacheOut, "output", "o", "", "merged cache file")
	cmd.AddCommand(im, ppl, cache)
	return cmd
}
