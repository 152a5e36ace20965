package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/internal/atomicfile"
)

func init() { register(newImatrixCmd) }

// newImatrixCmd is `mcompress imatrix`, the llama-imatrix look-alike.
func newImatrixCmd(g *globalOptions) *cobra.Command {
	var (
		model, data, out string
		o                eval.ImatrixOptions
		threads          int
		processOutput    bool
		shardFlag        string
	)
	cmd := &cobra.Command{
		Use:   "imatrix -m MODEL.gguf -f TEXT -o imatrix.gguf",
		Short: "Compute an importance matrix for quantization (llama-imatrix's GGUF format)",
		Long: `imatrix runs the model over a calibration text (chunks of --ctx-size tokens, the first of
each replaced by BOS, as llama-imatrix does) and sums, for every weight matrix of the blocks, the
squares of the activations entering each input column. It writes them in llama.cpp's current
GGUF imatrix format (NAME.in_sum2 and NAME.counts tensors, imatrix.* metadata), which
mcompress quantize --imatrix and llama-quantize --imatrix read.`,
		Example: `  mcompress imatrix -m model-f16.gguf -f calibration.txt -o imatrix.gguf
  mcompress quantize --imatrix imatrix.gguf --type Q4_K_M model-f16.gguf -o model-q4_k_m.gguf
  mcompress imatrix -m model-f16.gguf -f train.txt -c 256 --chunks 100 -o imatrix.gguf
  mcompress imatrix -m model-f16.gguf -f train.txt --shard 1/3 -o part-1.gguf   # then:
  mcompress merge imatrix part-0.gguf part-1.gguf part-2.gguf -o imatrix.gguf`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" || data == "" || out == "" {
				return badInput(fmt.Errorf("give the model (-m), the text (-f) and the output (-o)"))
			}
			if err := atomicfile.CheckWritable(out); err != nil {
				return badInput(err)
			}
			sh, err := resolveShard(shardFlag)
			if err != nil {
				return err
			}
			o.Shard = sh
			text, err := eval.ReadText(data, datasets.Options{})
			if err != nil {
				return err
			}
			rep := newReporter(g)
			rep.Start("imatrix", 0, false)
			o.Source = data
			o.Progress = func(done, total int64) { rep.Update(done) }
			c, ppl, err := eval.ComputeImatrix(cmd.Context(), model, text, threads, processOutput, o)
			rep.Finish()
			if err != nil {
				return err
			}
			if sh.Source != "" {
				err = c.WriteShard(out, []string{data}, sh)
			} else {
				err = c.WriteGGUF(out, []string{data})
			}
			if err != nil {
				return err
			}
			res := struct {
				Output  string  `json:"output"`
				Entries int     `json:"entries"`
				Chunks  int     `json:"chunks"`
				Context int     `json:"chunk_size"`
				PPL     float64 `json:"ppl"`
			}{out, len(c.Names()), ppl.Chunks, ppl.Context, ppl.PPL}
			if g.json {
				return printJSON(res)
			}
			fmt.Printf("wrote %s: %d matrices, %d chunks of %d tokens (PPL on the way %.4f)\n", out, res.Entries, res.Chunks, res.Context, res.PPL)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&model, "model", "m", "", "GGUF model (F32/F16 preferably)")
	f.StringVarP(&data, "file", "f", "", "calibration text (or dataset)")
	f.StringVarP(&out, "output", "o", "imatrix.gguf", "output file")
	f.IntVarP(&o.Context, "ctx-size", "c", eval.DefaultContext, "tokens per chunk")
	f.IntVar(&o.MaxChunks, "chunks", 0, "at most this many chunks (0: all)")
	f.IntVarP(&o.BatchSize, "batch-size", "b", 0, "tokens per forward micro-batch (0: runtime default; fewer than 16 are not collected)")
	f.IntVarP(&threads, "threads", "t", 0, "worker threads (0: every core)")
	f.BoolVar(&processOutput, "process-output", false, "also collect output.weight (llama-imatrix --process-output)")
	addShardFlag(f, &shardFlag)
	return cmd
}
