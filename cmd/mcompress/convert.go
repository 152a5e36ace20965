package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/internal/atomicfile"
)

func init() { register(newConvertCmd) }

// newConvertCmd is `convert`: Hugging Face folder to GGUF, or GGUF back to a Hugging Face folder.
func newConvertCmd(g *globalOptions) *cobra.Command {
	var (
		output, outtype, to, name, pre, shard string
		threads                               int
	)
	cmd := &cobra.Command{
		Use:   "convert INPUT [OUT_DIR]",
		Short: "Convert a Hugging Face checkpoint folder to GGUF (as llama.cpp does), or a GGUF file back to a Hugging Face folder",
		Long: `convert turns a Hugging Face checkpoint folder (config.json, model*.safetensors, sharded or
not, and the tokenizer files) into a GGUF file with the metadata, tensor names, order and types
llama.cpp's convert_hf_to_gguf.py writes: for the shared fixtures the output is byte-identical.
Supported architectures: LlamaForCausalLM (Llama 2/3, TinyLlama, SmolLM), MistralForCausalLM,
Qwen2ForCausalLM and Qwen3ForCausalLM.

--outtype picks the weight type: f32, f16, bf16, or auto (llama.cpp's default: bf16 for a
bfloat16 checkpoint, f16 otherwise). Norms, biases and other 1-D tensors stay F32.

With --to safetensors, INPUT is an F32/F16/BF16 GGUF file and the output is a Hugging Face
folder (config.json, model.safetensors, tokenizer files, README.md) that transformers loads and
that converts back to the same GGUF file.

Tensors stream from the memory-mapped input in parallel chunks, so memory stays bounded by a few
chunks; the output is written to a temporary file and renamed when complete (Ctrl-C leaves
nothing behind). Bad input exits with code 2.`,
		Example: `  mcompress convert ./TinyLlama-1.1B-Chat -o tinyllama-f16.gguf --outtype f16
  mcompress convert ./Qwen2.5-0.5B -o qwen.gguf --json
  mcompress convert model-f16.gguf --to safetensors ./model-hf
  mcompress convert model-bf16.gguf --to safetensors ./model-hf --max-shard-size 2GB`,
		Args: wantArgs(1, 2, "the input model, and the output folder for --to safetensors"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep := newReporter(g)
			start := time.Now()
			switch strings.ToLower(to) {
			case "safetensors", "hf":
				if len(args) == 2 {
					if output != "" && output != args[1] {
						return badInput(fmt.Errorf("give the output folder once (argument %q or -o %q)", args[1], output))
					}
					output = args[1]
				}
				if output == "" {
					return badInput(errors.New("--to safetensors needs an output folder (OUT_DIR or -o)"))
				}
				maxShard, err := parseSize(shard)
				if err != nil {
					return badInput(err)
				}
				if err := atomicfile.CheckDir(output); err != nil {
					return badInput(err)
				}
				started := false
				res, err := convert.ToHF(cmd.Context(), args[0], output, convert.HFOptions{
					MaxShardSize: maxShard,
					Progress: func(done, total int64) {
						if !started {
							rep.Start("convert "+args[0], total, true)
							started = true
						}
						rep.Update(done)
					},
				})
				if started {
					rep.Finish()
				}
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(res)
				}
				fmt.Printf("wrote %s (%s, %s) in %.1fs: %s\n", res.Dir, res.Arch, res.TorchDType, time.Since(start).Seconds(), strings.Join(res.Files, ", "))
				fmt.Printf("convert it back with: mcompress convert %s -o OUT.gguf --outtype %s\n", res.Dir, res.OutType)
				for _, n := range res.Notes {
					fmt.Fprintln(os.Stderr, "note:", n)
				}
				return nil
			case "", "gguf":
			default:
				return badInput(fmt.Errorf("--to %q: want gguf or safetensors", to))
			}
			if len(args) != 1 {
				return badInput(errors.New("converting to GGUF takes one input folder and -o OUT.gguf"))
			}
			if convert.IsGGUF(args[0]) {
				return badInput(fmt.Errorf("%s is a GGUF file: use --to safetensors OUT_DIR to turn it into a Hugging Face folder", args[0]))
			}
			if output == "" {
				return badInput(errors.New("missing -o OUT.gguf"))
			}
			ot, err := convert.ParseOutType(outtype)
			if err != nil {
				return badInput(err)
			}
			opts := convert.Options{OutType: ot, Name: name, TokenizerPre: pre, Threads: threads}
			opts.Warn = func(msg string) { rep.Logf("warning: %s", msg) }
			started := false
			opts.Progress = func(done, total int64) {
				if !started {
					rep.Start("convert "+args[0], total, true)
					started = true
				}
				rep.Update(done)
			}
			res, err := convert.Convert(cmd.Context(), args[0], output, opts)
			if started {
				rep.Finish()
			}
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(res)
			}
			secs := time.Since(start).Seconds()
			fmt.Printf("wrote %s: %s %s, %d tensors, %d parameters, %d bytes in %.1fs (%.0f MB/s of input)\n",
				res.Path, res.Arch, strings.ToUpper(string(res.OutType)), res.Tensors, res.Params, res.OutputBytes, secs, float64(res.InputBytes)/1e6/max(secs, 1e-9))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "output GGUF file (or folder with --to safetensors)")
	f.StringVar(&outtype, "outtype", "auto", "weight type: f32, f16, bf16 or auto (bf16 for bfloat16 checkpoints, else f16)")
	f.StringVar(&to, "to", "gguf", "output format: gguf (from a Hugging Face folder) or safetensors (from a GGUF file)")
	f.StringVar(&name, "name", "", "general.name to write (default: from the model card, config.json or the folder name, as llama.cpp)")
	f.StringVar(&pre, "tokenizer-pre", "", "tokenizer.ggml.pre for a byte-level BPE tokenizer whose pre-tokenizer is not recognized")
	f.IntVar(&threads, "threads", 0, "conversion goroutines (default: all cores)")
	f.StringVar(&shard, "max-shard-size", "", "with --to safetensors: split model.safetensors into shards of at most this size (e.g. 5GB)")
	return cmd
}

// parseSize reads a size such as 5GB, 500MB, 2GiB or a byte count; "" is 0 (no limit).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional unit (KB, MB, GB, KiB, MiB, GiB)", s)
	}
	return n * mult, nil
}
