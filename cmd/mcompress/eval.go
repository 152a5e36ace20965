package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/internal/atomicfile"
)

func init() { register(newEvalCmd) }

// newEvalCmd is `mcompress eval`: compare variants of a model and write a report.
func newEvalCmd(g *globalOptions) *cobra.Command {
	var (
		o              eval.Options
		report         string
		maxPPLIncrease string
		minAccuracy    string
		maxSize        string
		format, layout string
		split          string
		textColumn     string
		latencyFrom    string
		sizeBudgets    []string
		speedFloors    []float64
		lineage        []string
	)
	cmd := &cobra.Command{
		Use:   "eval --model A.gguf [--model B.gguf ...] (--data TEXT | --task FILE) [--report DIR]",
		Short: "Compare model variants: perplexity, KL-divergence, tasks, size and speed, with quality gates",
		Long: `eval measures every --model on the same data and compares them with the base (the first
model, or --base): perplexity with llama.cpp's chunking (or a sliding window with --stride),
KL-divergence from the base with top-1 agreement, multiple-choice tasks (HellaSwag, ARC, PIQA
layouts; acc and acc_norm as lm-evaluation-harness computes them), file size, bits per weight,
and prompt and generation speed. For a model that will run on another device (a phone, a
Raspberry Pi), run "mcompress bench --json" there and give its output to --latency-from: the
report then shows the speeds measured on that device, matched to each model by file name and
size, and says so.

With --report DIR it writes DIR/report.json, DIR/report.md and a self-contained DIR/report.html
with charts of perplexity (and KLD) against size and speed, marking the Pareto front. The files
appear only when the whole evaluation succeeded.

Quality gates for CI: --max-ppl-increase 5% and --max-kld X fail the command with exit code 3
and a message naming each model over the limit (the report is still written, so you can see
why). Bad input exits with code 2. See docs/EVAL.md.`,
		Example: `  mcompress eval --model f16.gguf --model q4_k_m.gguf --model q3_k_m.gguf --data valid.txt --report out/
  mcompress eval --base f16.gguf --model q4.gguf --data wiki.test.raw -c 512 --max-ppl-increase 5% --max-kld 0.05
  mcompress eval --model q4.gguf --task hellaswag_val.jsonl --task arc_easy.parquet --limit 500
  mcompress eval --model f16.gguf --model q4.gguf --data valid.txt --stride 128 -c 512 --json`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.Models) == 0 && o.Base == "" {
				return badInput(fmt.Errorf("give at least one --model"))
			}
			var err error
			if o.Gates.MaxPPLIncrease, err = parsePercent(maxPPLIncrease); err != nil {
				return badInput(fmt.Errorf("--max-ppl-increase: %w", err))
			}
			if o.Gates.MaxKLD < 0 {
				return badInput(fmt.Errorf("--max-kld %g cannot be negative", o.Gates.MaxKLD))
			}
			if o.Gates.MinAccuracy, err = parsePercent(minAccuracy); err != nil {
				return badInput(fmt.Errorf("--min-accuracy: %w", err))
			}
			if o.Gates.MaxSizeBytes, err = parseSize(maxSize); err != nil {
				return badInput(fmt.Errorf("--max-size %q: want a size such as 50MB or 2GiB", maxSize))
			}
			device, err := deviceLatencies(latencyFrom, o)
			if err != nil {
				return badInput(fmt.Errorf("--latency-from: %w", err))
			}
			o.SkipLatency = o.SkipLatency || device != nil
			for _, b := range sizeBudgets {
				n, err := parseSize(b)
				if err != nil || n == 0 {
					return badInput(fmt.Errorf("--size-budget %q: want a size such as 50MB or 2GiB", b))
				}
				o.Budgets.SizeBytes = append(o.Budgets.SizeBytes, n)
			}
			for _, f := range speedFloors {
				if !(f > 0) {
					return badInput(fmt.Errorf("--speed-floor %g: want a positive speed in tokens/s", f))
				}
			}
			o.Budgets.SpeedFloors = speedFloors
			o.Lineage = map[string]string{}
			for _, l := range lineage {
				name, text, ok := strings.Cut(l, "=")
				if !ok || name == "" {
					return badInput(fmt.Errorf("--lineage %q: want MODEL=TEXT (MODEL: a --model path or its report name)", l))
				}
				o.Lineage[name] = text
			}
			if o.DataOptions.Format, err = datasets.ParseFormat(format); err != nil {
				return badInput(err)
			}
			o.DataOptions.Split, o.DataOptions.TextColumn = split, textColumn
			o.TaskOptions.Data.Format, o.TaskOptions.Data.Split = o.DataOptions.Format, split
			if o.TaskOptions.Layout, err = eval.ParseTaskLayout(layout); err != nil {
				return badInput(err)
			}
			if report != "" {
				if err := atomicfile.CheckDir(report); err != nil {
					return badInput(fmt.Errorf("--report: %w", err))
				}
			}
			if o.KLBasePath != "" {
				if err := atomicfile.CheckWritable(o.KLBasePath); err != nil {
					return badInput(fmt.Errorf("--save-kld-base: %w", err))
				}
			}
			rep := newReporter(g)
			stage := ""
			o.Progress = func(s string, done, total int64) {
				if s != stage {
					if stage != "" {
						rep.Finish()
					}
					stage = s
					rep.Start(s, total, false)
				}
				rep.Update(done)
			}
			r, err := eval.Run(cmd.Context(), o)
			if stage != "" {
				rep.Finish()
			}
			if err == nil && device != nil {
				err = eval.ApplyDeviceLatencies(r, device)
			}
			if err != nil {
				if cmd.Context().Err() != nil {
					return cmd.Context().Err()
				}
				return err
			}
			if report != "" {
				if err := eval.WriteReport(report, r); err != nil {
					return err
				}
				rep.Logf("report written to %s (report.json, report.md, report.html)", report)
			}
			if g.json {
				if err := printJSON(r); err != nil {
					return err
				}
			} else {
				fmt.Print(string(r.Markdown()))
			}
			if gerr := r.GateError(); gerr != nil {
				return gateError{msg: gerr.Error()}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Models, "model", "m", nil, "GGUF model to evaluate (repeat to compare variants; the first is the base unless --base)")
	f.StringVar(&o.Base, "base", "", "reference model for KL-divergence and gates (default: the first --model)")
	f.StringVarP(&o.Data, "data", "f", "", "evaluation text: a text file (read whole) or a dataset (JSONL, Parquet, Arrow, HF folder)")
	f.StringVar(&format, "format", "auto", "format of --data and --task files: auto, text, jsonl, json, parquet, arrow, hf")
	f.StringVar(&split, "split", "", "split of a Hugging Face dataset folder")
	f.StringVar(&textColumn, "text-column", "", "column holding the text of a --data dataset (default: text, content, ...)")
	f.IntVarP(&o.Context, "ctx-size", "c", eval.DefaultContext, "tokens per perplexity chunk (n_ctx)")
	f.IntVar(&o.Stride, "stride", 0, "sliding-window perplexity: windows of --ctx-size every STRIDE tokens, last STRIDE scored (0: llama.cpp chunks; disables KLD)")
	f.IntVar(&o.MaxChunks, "chunks", 0, "evaluate at most this many chunks (0: all)")
	f.IntVarP(&o.BatchSize, "batch-size", "b", 0, "tokens per forward micro-batch (0: runtime default)")
	f.StringVar(&o.KLBasePath, "save-kld-base", "", "keep the base's log-probabilities in this file (llama.cpp --kl-divergence-base format)")
	f.StringArrayVar(&o.Tasks, "task", nil, "multiple-choice task file or folder (HellaSwag, ARC, PIQA layouts; repeatable)")
	f.StringVar(&layout, "task-layout", "auto", "layout of the task records: auto, hellaswag, arc, piqa, generic")
	f.IntVar(&o.TaskOptions.Limit, "limit", 0, "score at most this many examples per task (0: all)")
	f.BoolVar(&o.Score.NoBOS, "no-bos", false, "do not put BOS before task requests")
	f.BoolVar(&o.SkipLatency, "no-latency", false, "skip the speed measurement")
	f.IntVar(&o.Latency.PromptTokens, "latency-prompt", 128, "prompt tokens for the speed measurement")
	f.IntVar(&o.Latency.GenTokens, "latency-gen", 32, "generated tokens for the speed measurement")
	f.StringVar(&latencyFrom, "latency-from", "", "take the speeds from `FILE`, the output of mcompress bench --json run on the target device, instead of measuring them here")
	f.IntVarP(&o.Threads, "threads", "t", 0, "worker threads (0: every core)")
	f.StringVar(&report, "report", "", "write report.json, report.md and report.html into this folder")
	f.StringSliceVar(&sizeBudgets, "size-budget", nil, "file-size budgets to recommend a variant for, e.g. 50MB,100MB (default: 1/2 and 1/4 of the base's size)")
	f.Float64SliceVar(&speedFloors, "speed-floor", nil, "speeds (tokens/s) to recommend a variant for, e.g. 100,200 (default: 2x and 4x the base's speed)")
	f.StringArrayVar(&lineage, "lineage", nil, "MODEL=TEXT: what MODEL (a --model path or report name) was made from and how, shown in the report (repeatable)")
	f.StringVar(&maxPPLIncrease, "max-ppl-increase", "", `fail (exit 3) if a model's perplexity exceeds the base's by more than this ("5%" or 0.05)`)
	f.Float64Var(&o.Gates.MaxKLD, "max-kld", 0, "fail (exit 3) if a model's mean KL-divergence from the base exceeds this (nats)")
	f.StringVar(&minAccuracy, "min-accuracy", "", `fail (exit 3) if a model's accuracy on any --task is below this ("60%" or 0.6)`)
	f.StringVar(&maxSize, "max-size", "", "fail (exit 3) if a model's file is larger than this (e.g. 700MB, 2GiB)")
	return cmd
}

// parsePercent reads "5%" as 0.05 and "0.05" as 0.05; "" is 0. A bare number above 1 ("5")
// is refused as ambiguous (5% or 500%?) with a message suggesting both spellings.
func parsePercent(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a non-negative number or percentage", s)
	}
	if pct {
		return v / 100, nil
	}
	if v > 1 {
		return 0, fmt.Errorf("%q is ambiguous: write %s%% for a %s%% increase (or %g as a fraction)", s, s, s, v/100)
	}
	return v, nil
}

// deviceLatencies reads the --latency-from file (nil when none was given) and checks, before
// the evaluation starts, that it has the speeds of every model.
func deviceLatencies(path string, o eval.Options) (*eval.DeviceLatencies, error) {
	if path == "" {
		return nil, nil
	}
	d, err := eval.ReadDeviceLatencies(path)
	if err != nil {
		return nil, err
	}
	for _, m := range append([]string{o.Base}, o.Models...) {
		if m == "" {
			continue
		}
		if _, err := d.For(m); err != nil {
			return nil, err
		}
	}
	return d, nil
}
