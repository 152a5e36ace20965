package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func init() { register(newTrainCmd) }

// newTrainCmd is `train`: the distillation loop with cross-entropy only, to train a model from
// scratch (or further).
func newTrainCmd(g *globalOptions) *cobra.Command {
	var (
		t     trainFlags
		model string
	)
	cmd := &cobra.Command{
		Use:   "train --tokenizer MODEL --data TEXT -o RUN_DIR [--config config.json | dimension flags]",
		Short: "Train a model with next-token cross-entropy (from scratch, or further from a model)",
		Long: `train runs the same loop as distill with the cross-entropy loss alone: AdamW, warmup and a
cosine or linear schedule, gradient accumulation, clipping, validation, a JSONL log, checkpoints
and bit-exact --resume.

A new model takes its tokenizer, and its base configuration, from --tokenizer (a GGUF file or a
Hugging Face folder); --config (a config.json in Hugging Face form) and the dimension flags
change it, and it starts from random weights (N(0, 0.02²), unit norms). --model trains an
existing model further instead. The result is RUN_DIR/hf and RUN_DIR/model.gguf.`,
		Example: `  mcompress train --tokenizer teacher.gguf --config tiny.json --data train.txt --valid valid.txt \
      --tokens 20M --lr 3e-3 --warmup 200 --checkpoint-every 500 -o demo-teacher/
  mcompress train --tokenizer hf/ --layers 4 --hidden 256 --heads 8 --kv-heads 4 --ffn 768 --data train.txt -o run/
  mcompress train --model run/hf --data more.txt --steps 500 -o run2/`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := t.options(cmd.Flags())
			if err != nil {
				return badInput(err)
			}
			if o.Student.Tokenizer == "" && model == "" {
				return badInput(errors.New("give --tokenizer (a model whose tokenizer and configuration to start from) or --model"))
			}
			if o.Data.Path == "" {
				return badInput(errors.New("missing --data"))
			}
			o.Student.Path = model
			o.Student.Init = "random"
			if model != "" {
				o.Student.Init = ""
			}
			o.Loss.Alpha = 0
			return runTraining(cmd.Context(), g, "train", o)
		},
	}
	f := cmd.Flags()
	t.add(f)
	f.StringVar(&t.o.Student.Tokenizer, "tokenizer", "", "model (GGUF or Hugging Face folder) whose tokenizer and configuration a new model starts from")
	f.StringVar(&model, "model", "", "existing model to train further (Hugging Face folder or GGUF)")
	f.StringVar(&t.o.Student.ConfigFile, "config", "", "config.json (Hugging Face form) of the new model, on top of --tokenizer's configuration")
	return cmd
}
