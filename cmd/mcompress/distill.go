package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/distill"
)

func init() { register(newDistillCmd) }

// trainFlags are the flags `distill` and `train` share: data, student, optimizer, schedule,
// checkpoints and output.
type trainFlags struct {
	o                                    distill.Options
	dataFormat, textMode, textColumn     string
	split, validSplit, schedule, outtype string
	tokens                               string
	tied                                 bool
	wd                                   float64
}

// add registers the shared flags on f, bound into t.o, which starts as distill.DefaultOptions().
func (t *trainFlags) add(f *pflag.FlagSet) {
	t.o = distill.DefaultOptions()
	o := &t.o
	f.StringVarP(&o.Output, "output", "o", "", "run folder: hf/ (Hugging Face model), model.gguf, train.jsonl, checkpoints/ (required)")
	f.StringVar(&o.Data.Path, "data", "", "training data: text, JSONL, Parquet, Arrow or a Hugging Face dataset folder")
	f.StringVar(&t.dataFormat, "data-format", "auto", "data format: auto, text, jsonl, json, parquet, arrow, hf")
	f.StringVar(&t.textMode, "text-mode", "", "plain text: whole (one document, the default), lines or paragraphs")
	f.StringVar(&t.textColumn, "text-column", "", "column holding the text (default: text, content, messages, ...)")
	f.StringVar(&t.split, "split", "", "split of a dataset folder to train on (default train)")
	f.StringVar(&o.Data.Valid, "valid", "", "held-out data for validation (same formats as --data)")
	f.StringVar(&t.validSplit, "valid-split", "", "split of the --valid dataset folder (default: its train or first split)")
	f.Float64Var(&o.Data.ValidFraction, "valid-fraction", 0, "without --valid: hold this share of the training sequences out for validation")
	f.IntVar(&o.Data.ValidSequences, "valid-seqs", 0, "use at most this many validation sequences (0: all)")
	f.IntVar(&o.SeqLen, "seq-len", o.SeqLen, fmt.Sprintf("tokens per training sequence (default %d; with --teacher-cache, the cache's)", distill.DefaultSeqLen))
	f.IntVar(&o.Batch, "batch", o.Batch, "sequences per micro-batch")
	f.IntVar(&o.Accum, "accum", o.Accum, "micro-batches per optimizer step (gradient accumulation)")
	f.IntVar(&o.Steps, "steps", 0, "optimizer steps (default: from --tokens, else one epoch)")
	f.StringVar(&t.tokens, "tokens", "", "training token budget when --steps is not given (e.g. 2M)")
	f.Float64Var(&o.Optim.LR, "lr", o.Optim.LR, "peak learning rate")
	f.Float64Var(&o.MinLR, "min-lr", o.MinLR, "learning rate at the end of the schedule (unless given: a tenth of --lr)")
	f.IntVar(&o.Warmup, "warmup", 0, "linear warmup steps")
	f.StringVar(&t.schedule, "schedule", "cosine", "learning-rate schedule after warmup: cosine, linear or constant")
	f.Float64Var(&t.wd, "weight-decay", o.Optim.WeightDecay, "AdamW decoupled weight decay of matrices (norms and biases get none)")
	f.Float64Var(&o.Optim.Beta1, "beta1", o.Optim.Beta1, "AdamW beta1")
	f.Float64Var(&o.Optim.Beta2, "beta2", o.Optim.Beta2, "AdamW beta2")
	f.Float64Var(&o.Optim.Eps, "eps", o.Optim.Eps, "AdamW epsilon")
	f.Float64Var(&o.ClipNorm, "clip", o.ClipNorm, "clip the global gradient norm to this (0 or less: no clipping)")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of the data order and of random initialisation")
	f.IntVar(&o.Threads, "threads", 0, "threads (default: all cores; results are the same for every value)")
	f.IntVar(&o.ValidEvery, "valid-every", 0, "validate every N steps (0: only at the end)")
	f.IntVar(&o.CheckpointEvery, "checkpoint-every", 0, "checkpoint every N steps (0: only on Ctrl-C and at the end)")
	f.IntVar(&o.KeepCheckpoints, "keep-checkpoints", o.KeepCheckpoints, "number of checkpoints kept")
	f.BoolVar(&o.Resume, "resume", false, "continue the run in --output from its newest checkpoint")
	f.StringVar(&t.outtype, "outtype", "f32", "weight type of model.gguf: f32, f16 or bf16")
	f.StringVar(&o.Save.Name, "name", "", "general.name of the output (default: the output folder's name)")
	// Student.
	s := &o.Student
	f.StringVar(&s.ConfigFile, "student-config", "", "student config.json (Hugging Face form) applied on top of the base model's configuration")
	f.IntVar(&s.Overrides.Layers, "layers", 0, "student: transformer blocks")
	f.IntVar(&s.Overrides.Hidden, "hidden", 0, "student: hidden size")
	f.IntVar(&s.Overrides.Heads, "heads", 0, "student: attention heads")
	f.IntVar(&s.Overrides.KVHeads, "kv-heads", 0, "student: key/value heads")
	f.IntVar(&s.Overrides.HeadDim, "head-dim", 0, "student: head dimension (default hidden/heads)")
	f.IntVar(&s.Overrides.FFN, "ffn", 0, "student: MLP intermediate size")
	f.BoolVar(&t.tied, "tied", false, "student: tie the output projection to the embeddings (--tied=false unties)")
	f.Float64Var(&s.InitStd, "init-std", s.InitStd, "standard deviation of randomly initialised weights")
}

// options resolves the string flags into t.o.
func (t *trainFlags) options(f *pflag.FlagSet) (distill.Options, error) {
	o := t.o
	var err error
	if o.Data.Read.Format, err = datasets.ParseFormat(t.dataFormat); err != nil {
		return o, err
	}
	if o.Data.Read.TextMode, err = datasets.ParseTextMode(t.textMode); err != nil {
		return o, err
	}
	o.Data.Read.TextColumn, o.Data.Read.Split = t.textColumn, t.split
	o.Data.ValidRead = o.Data.Read
	o.Data.ValidRead.Split = t.validSplit
	if o.Schedule, err = distill.ParseSchedule(t.schedule); err != nil {
		return o, err
	}
	if o.Save.OutType, err = convert.ParseOutType(t.outtype); err != nil {
		return o, err
	}
	if o.Save.OutType == convert.OutAuto {
		o.Save.OutType = convert.OutF32
	}
	if t.tokens != "" {
		if o.Tokens, err = parseCount(t.tokens); err != nil {
			return o, fmt.Errorf("--tokens: %w", err)
		}
	}
	o.Optim.WeightDecay = t.wd
	if t.wd == 0 {
		o.Optim.WeightDecay = distill.NoWeightDecay
	}
	if o.ClipNorm < 0 {
		o.ClipNorm = 0 // the flag's "0 or less: no clipping"
	}
	if f.Changed("tied") {
		tied := t.tied
		o.Student.Overrides.Tied = &tied
	}
	if !f.Changed("min-lr") {
		o.MinLR = o.Optim.LR / 10
	}
	return o, nil
}

// parseCount reads a count such as 2000000, 2M, 500K or 1.5G.
func parseCount(in string) (int64, error) {
	s := strings.TrimSpace(strings.ToUpper(in))
	mult := 1.0
	for _, u := range []struct {
		suffix string
		m      float64
	}{{"G", 1e9}, {"B", 1e9}, {"M", 1e6}, {"K", 1e3}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil || !(v > 0) || v*mult > 1e15 {
		return 0, fmt.Errorf("%q: want a positive count such as 2000000, 500K or 2M", in)
	}
	return int64(v * mult), nil
}

// runTraining runs distill.Run with a progress bar and prints the result.
func runTraining(ctx context.Context, g *globalOptions, what string, o distill.Options) error {
	rep := newReporter(g)
	started := false
	o.Log = func(msg string) { rep.Logf("%s", msg) }
	o.Progress = func(p distill.Progress) {
		switch p.Phase {
		case "data":
			rep.Logf("tokenizing and packing %s", o.Data.Path)
		case "train":
			if !started {
				rep.Start(what, int64(p.Steps), false)
				started = true
			}
			rep.Describe(fmt.Sprintf("%s · loss %.4f · %.0f tok/s · ETA %s", what, p.Loss, p.TokensPerSec, p.ETA.Round(time.Second)))
			rep.Update(int64(p.Step))
		case "valid":
			if started {
				rep.Describe(what + " · validating")
			}
		case "save":
			if started {
				rep.Finish()
				started = false
			}
			rep.Logf("writing %s", o.Output)
		}
	}
	res, err := distill.Run(ctx, o)
	if started {
		rep.Finish()
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s interrupted: checkpoint written in %s; continue with the same flags and --resume: %w", what, o.Output, err)
		}
		return err
	}
	if g.json {
		return printJSON(res)
	}
	fmt.Printf("%s: %d steps, %d tokens, %d parameters, %.0f tokens/s; last loss %.4f (KL %.4f, CE %.4f)\n",
		what, res.Steps, res.Tokens, res.Params, res.TokensPerSec, res.Loss.Loss, res.Loss.KL, res.Loss.CE)
	if res.TeacherPPL > 0 {
		fmt.Printf("teacher validation perplexity %.4f\n", res.TeacherPPL)
	}
	if v := res.Valid; v != nil {
		if v.HasKL {
			fmt.Printf("validation perplexity %.4f, KL to the teacher %.4f (%d tokens)\n", v.Perplexity, v.KL, v.Tokens)
		} else {
			fmt.Printf("validation perplexity %.4f (%d tokens)\n", v.Perplexity, v.Tokens)
		}
	}
	fmt.Printf("wrote %s (Hugging Face) and %s; log %s\n", res.HFDir, res.GGUF, res.LogFile)
	return nil
}

// newDistillCmd is `distill`: train a student from a teacher.
func newDistillCmd(g *globalOptions) *cobra.Command {
	var (
		t              trainFlags
		loss, topkMode string
		student, init  string
	)
	cmd := &cobra.Command{
		Use:   "distill --teacher MODEL --data TEXT -o RUN_DIR [student flags]",
		Short: "Distill a teacher into a smaller student (forward/reverse KL with temperature, mixed with cross-entropy)",
		Long: `distill trains a student model to imitate a teacher. The teacher is any GGUF file the runtime
loads (quantized ones too) or a Hugging Face folder; teacher and student must share a tokenizer.

The loss is alpha·T²·KL(p_teacher^T ‖ p_student^T) + (1 − alpha)·CE, with p^T = softmax(logits/T)
(--loss reverse swaps the KL's arguments). The student is
  - a model to load (--student: a Hugging Face folder or GGUF, for example a pruned model), or
  - the teacher's configuration changed by --student-config (a config.json) or by dimension flags
    (--layers, --hidden, --heads, --kv-heads, --ffn), initialised from the teacher where shapes
    allow (evenly spaced blocks, leading slices) or at random (--init random).

Offline distillation: 'mcompress distill cache' runs the teacher once and stores its top-k
log-probabilities; pass the file with --teacher-cache and the teacher is not run again.

Training uses AdamW (no decay on norms and biases), warmup then a cosine or linear schedule,
gradient accumulation and global-norm clipping. It validates every --valid-every steps
(perplexity and KL to the teacher on held-out text), logs every step to RUN_DIR/train.jsonl,
checkpoints every --checkpoint-every steps and on Ctrl-C, and continues bit-exactly with
--resume. The result is RUN_DIR/hf (a Hugging Face folder) and RUN_DIR/model.gguf, ready for
quantize and eval. The same flags and thread count give the same bytes.`,
		Example: `  mcompress distill --teacher teacher.gguf --data train.txt --valid valid.txt \
      --layers 3 --hidden 128 --heads 4 --kv-heads 2 --ffn 384 --tokens 2M -o run/
  mcompress distill --teacher teacher-Q4_K_M.gguf --student pruned-hf/ --data corpus.jsonl \
      --alpha 0.9 --temperature 2 --steps 2000 --warmup 100 --checkpoint-every 200 -o run/
  mcompress distill cache --teacher teacher.gguf --data train.txt --valid valid.txt --topk 32 -o train.topk
  mcompress distill --teacher-cache train.topk --teacher teacher.gguf --student-config small.json -o run/
  mcompress distill ... -o run/ --resume`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := t.options(cmd.Flags())
			if err != nil {
				return badInput(err)
			}
			if o.Loss.Divergence, err = distill.ParseDivergence(loss); err != nil {
				return badInput(err)
			}
			if o.Loss.TopKMode, err = distill.ParseTopKMode(topkMode); err != nil {
				return badInput(err)
			}
			if o.Teacher == "" && o.TeacherCache == "" {
				return badInput(errors.New("missing --teacher (or --teacher-cache)"))
			}
			o.Student.Path, o.Student.Init = student, init
			return runTraining(cmd.Context(), g, "distill", o)
		},
	}
	f := cmd.Flags()
	t.add(f)
	f.StringVar(&t.o.Teacher, "teacher", "", "teacher model: GGUF (any type) or Hugging Face folder")
	f.StringVar(&t.o.TeacherCache, "teacher-cache", "", "teacher top-k file from 'mcompress distill cache' (offline distillation)")
	f.StringVar(&student, "student", "", "student model to train (Hugging Face folder or GGUF), e.g. a pruned model")
	f.StringVar(&init, "init", "", "student built from a config: teacher (default) or random")
	f.StringVar(&loss, "loss", "forward", "KL direction: forward (teacher ‖ student) or reverse (student ‖ teacher)")
	f.Float64Var(&t.o.Loss.Alpha, "alpha", 0.5, "weight of the KL term; 1 − alpha weighs the cross-entropy")
	f.Float64Var(&t.o.Loss.Temperature, "temperature", 2, "softmax temperature T of the KL (scaled by T²)")
	f.StringVar(&topkMode, "topk-mode", "tail", "with --teacher-cache: tail (k tokens plus a bucket for the rest) or renorm (k tokens renormalised)")
	cmd.AddCommand(newDistillCacheCmd(g))
	return cmd
}

// newDistillCacheCmd is `distill cache`: run the teacher once and store its top-k.
func newDistillCacheCmd(g *globalOptions) *cobra.Command {
	var (
		o                                       distill.CacheOptions
		dataFormat, textMode, textColumn, split string
		validSplit                              string
		shardFlag                               string
	)
	cmd := &cobra.Command{
		Use:   "cache --teacher MODEL --data TEXT -o FILE",
		Short: "Run a teacher once over a dataset and store its top-k log-probabilities for offline distillation",
		Long: `cache runs the teacher over the packed training (and validation) sequences and writes, for
every position, the k most probable next tokens with their log-probabilities and the log of the
remaining probability (the tail), compactly coded: ids as Rice-coded gaps, the top log-probability
to 1/2048 nat and the others relative to it in --logp-bits bits of --logp-step nats. The file
also holds the token sequences, so 'mcompress distill --teacher-cache FILE' needs neither the
teacher nor the text again. See docs/DISTILL.md for sizes and the quality cost of k.`,
		Example: `  mcompress distill cache --teacher teacher.gguf --data train.txt --valid valid.txt --topk 32 -o train.topk
  mcompress distill cache --teacher teacher.gguf --data train.txt --shard 0/2 -o part-0.topk   # and 1/2, then:
  mcompress merge cache part-0.topk part-1.topk -o train.topk`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Data.Read.Format, err = datasets.ParseFormat(dataFormat); err != nil {
				return badInput(err)
			}
			if o.Data.Read.TextMode, err = datasets.ParseTextMode(textMode); err != nil {
				return badInput(err)
			}
			o.Data.Read.TextColumn, o.Data.Read.Split = textColumn, split
			o.Data.ValidRead = o.Data.Read
			o.Data.ValidRead.Split = validSplit
			if o.Teacher == "" {
				return badInput(errors.New("missing --teacher"))
			}
			if o.Shard, err = resolveShard(shardFlag); err != nil {
				return err
			}
			rep := newReporter(g)
			started := false
			o.Progress = func(done, total int64) {
				if !started {
					rep.Start("teacher top-k", total, false)
					started = true
				}
				rep.Update(done)
			}
			start := time.Now()
			info, err := distill.BuildCache(cmd.Context(), o)
			if started {
				rep.Finish()
			}
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(info)
			}
			for _, name := range []string{"train", "valid"} {
				if s, ok := info.Splits[name]; ok {
					fmt.Printf("%s: %d sequences, %.1f bytes per position\n", name, s.Sequences, s.BytesPerToken)
				}
			}
			fmt.Printf("wrote %s: top-%d of %s, %.1f bytes per position, in %.1fs\n", o.Output, info.K, info.Teacher, info.BytesPerToken(), time.Since(start).Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Teacher, "teacher", "", "teacher model: GGUF (any type) or Hugging Face folder")
	f.StringVarP(&o.Output, "output", "o", "", "cache file to write")
	addShardFlag(f, &shardFlag)
	f.StringVar(&o.Data.Path, "data", "", "training data")
	f.StringVar(&dataFormat, "data-format", "auto", "data format: auto, text, jsonl, json, parquet, arrow, hf")
	f.StringVar(&textMode, "text-mode", "", "plain text: whole, lines or paragraphs")
	f.StringVar(&textColumn, "text-column", "", "column holding the text")
	f.StringVar(&split, "split", "", "split of a dataset folder")
	f.StringVar(&o.Data.Valid, "valid", "", "held-out data, stored as the validation split")
	f.StringVar(&validSplit, "valid-split", "", "split of the --valid dataset folder")
	f.Float64Var(&o.Data.ValidFraction, "valid-fraction", 0, "without --valid: hold this share of the sequences out for validation")
	f.IntVar(&o.Data.ValidSequences, "valid-seqs", 0, "store at most this many validation sequences (0: all)")
	f.IntVar(&o.SeqLen, "seq-len", 256, "tokens per sequence")
	f.IntVar(&o.K, "topk", 32, "log-probabilities kept per position")
	f.IntVar(&o.LogPBits, "logp-bits", 8, "bits per log-probability below the top one")
	f.Float64Var(&o.LogPStep, "logp-step", 1.0/16, "nats per step of those log-probabilities")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of the --valid-fraction split")
	f.IntVar(&o.Threads, "threads", 0, "threads (default: all cores)")
	return cmd
}
