package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/prune"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

func init() { register(newPruneCmd) }

// pruneError maps the prune stage's input errors to exit code 2.
func pruneError(err error) error {
	if errors.Is(err, prune.ErrBadInput) || errors.Is(err, gguf.ErrFormat) {
		return badInput(err)
	}
	return err
}

// pruneFlags are the flags of `mcompress prune`.
type pruneFlags struct {
	method, pattern, schedule, structured, dropLayers string
	sparsity                                          float64
	calib, out, to, imatrix, imatrixOut               string
	samples, length, threads                          int
}

// pruneSummary is what --json prints.
type pruneSummary struct {
	Input         string                    `json:"input"`
	Output        string                    `json:"output"`
	Format        string                    `json:"format"`
	Mode          string                    `json:"mode"`
	Calibration   *pruneCalibration         `json:"calibration,omitempty"`
	LossBefore    *float64                  `json:"calibration_loss_before,omitempty"`
	LossAfter     *float64                  `json:"calibration_loss_after,omitempty"`
	ParamsBefore  int64                     `json:"params_before"`
	ParamsAfter   int64                     `json:"params_after"`
	ZerosAfter    int64                     `json:"zeros_after"`
	Unstructured  *prune.UnstructuredResult `json:"unstructured,omitempty"`
	Structured    *prune.StructuredReport   `json:"structured,omitempty"`
	Influence     []float64                 `json:"layer_influence,omitempty"`
	DroppedLayers []int                     `json:"dropped_layers,omitempty"`
	ImatrixOut    string                    `json:"imatrix_out,omitempty"`
	Seconds       float64                   `json:"seconds"`
}

type pruneCalibration struct {
	Source    string `json:"source"`
	Sequences int    `json:"sequences"`
	Length    int    `json:"tokens_per_sequence"`
}

// newPruneCmd is `mcompress prune`.
func newPruneCmd(g *globalOptions) *cobra.Command {
	var f pruneFlags
	cmd := &cobra.Command{
		Use:   "prune MODEL (--method M --sparsity S [--pattern N:M] | --structured SPEC | --drop-layers LIST|auto:N) [--calib DATA] -o OUT",
		Short: "Prune a model: unstructured or N:M sparsity (magnitude, Wanda, SparseGPT), structured (heads, FFN, hidden, layers) or layer dropping",
		Long: `prune removes weights from a model in one of three ways (docs/PRUNE.md):

  --method magnitude|wanda|sparsegpt --sparsity S [--pattern 2:4|4:8] [--sparsity-schedule L:S,...]
      zeroes a fraction S of the seven linear matrices of every block (attention q, k, v, output;
      FFN gate, up, down; never embeddings, the output head or norms). Wanda and SparseGPT need
      --calib: the model runs one block at a time over the calibration sequences, each block
      seeing the outputs of the already-pruned blocks before it. --pattern keeps N of every M
      consecutive weights of each row (semi-structured sparsity). The schedule overrides S for
      the blocks it lists ("0:0.3,5:0.6", or @FILE with one LAYER:SPARSITY a line).
  --structured heads=H,ffn=F,hidden=D,layers=L[,head-mode=groups]
      cuts whole attention heads, FFN channels, hidden channels and blocks, ranked by activation
      importance on --calib (Minitron): the output is a smaller model.
  --drop-layers 3,7 | auto:N
      removes whole blocks; auto:N drops the N least influential by 1 − cos(x_in, x_out) on
      --calib (ShortGPT). On a GGUF file (quantized ones too) written as GGUF, the kept tensors
      are copied byte for byte and per-layer metadata arrays are cut; --imatrix FILE is
      renumbered into --imatrix-out.

MODEL is a Hugging Face folder or an F32/F16/BF16 GGUF (any GGUF for --drop-layers). The output
is a GGUF (F32, or the input's F16/BF16) or, with --to safetensors, a Hugging Face folder.
Calibration takes --calib-samples sequences of --calib-len tokens from the start of DATA (any
dataset eval reads), each starting with BOS. The output does not depend on --threads. Bad input
(sparsity outside [0, 1), a pattern that does not divide the rows, too little calibration data,
more heads or layers removed than exist, a quantized model for a float method) exits 2 and
writes nothing.`,
		Example: `  mcompress prune model-f16.gguf --method sparsegpt --sparsity 0.5 --calib train.txt -o model-sparse.gguf
  mcompress prune ./Llama-3.2-1B --method wanda --pattern 2:4 --calib train.txt -o sparse-hf --to safetensors
  mcompress prune model-f16.gguf --structured heads=4,ffn=384 --calib train.txt -o student.gguf
  mcompress prune model-q4_k_m.gguf --drop-layers 3,7 -o smaller-q4_k_m.gguf
  mcompress prune model-q4_k_m.gguf --drop-layers auto:2 --calib train.txt -o smaller.gguf --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPrune(cmd.Context(), g, cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.method, "method", "", "unstructured method: magnitude, wanda or sparsegpt")
	fl.Float64Var(&f.sparsity, "sparsity", 0, "fraction of each block matrix to remove, in [0, 1)")
	fl.StringVar(&f.pattern, "pattern", "", "N:M sparsity pattern, e.g. 2:4 or 4:8")
	fl.StringVar(&f.schedule, "sparsity-schedule", "", "per-layer sparsity, LAYER:S,... or @FILE")
	fl.StringVar(&f.structured, "structured", "", "structured prune: heads=H,ffn=F,hidden=D,layers=L[,head-mode=groups|per-group]")
	fl.StringVar(&f.dropLayers, "drop-layers", "", "blocks to remove: 3,7 or auto:N")
	fl.StringVar(&f.calib, "calib", "", "calibration data (text, JSONL, Parquet, Arrow, HF dataset folder)")
	fl.IntVar(&f.samples, "calib-samples", 64, "calibration sequences")
	fl.IntVar(&f.length, "calib-len", 512, "tokens per calibration sequence")
	fl.StringVarP(&f.out, "output", "o", "", "output GGUF file, or folder with --to safetensors")
	fl.StringVar(&f.to, "to", "gguf", "output format: gguf or safetensors (a Hugging Face folder)")
	fl.StringVar(&f.imatrix, "imatrix", "", "with --drop-layers: an importance matrix (GGUF) to renumber")
	fl.StringVar(&f.imatrixOut, "imatrix-out", "", "where the renumbered importance matrix goes")
	fl.IntVarP(&f.threads, "threads", "t", 0, "worker threads (0: every core); the output does not depend on it")
	return cmd
}

// runPrune checks the flags and the output, then runs the chosen kind of prune.
func runPrune(ctx context.Context, g *globalOptions, cmd *cobra.Command, in string, f pruneFlags) error {
	start := time.Now()
	unstructured := f.method != "" || cmd.Flags().Changed("sparsity") || f.pattern != "" || f.schedule != ""
	modes := 0
	for _, on := range []bool{unstructured, f.structured != "", f.dropLayers != ""} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return badInput(errors.New("give exactly one of --method/--sparsity/--pattern, --structured or --drop-layers"))
	}
	if f.out == "" {
		return badInput(errors.New("give the output with -o"))
	}
	hf := false
	switch strings.ToLower(f.to) {
	case "gguf":
	case "safetensors", "hf":
		hf = true
	default:
		return badInput(fmt.Errorf("--to %q: want gguf or safetensors", f.to))
	}
	if (f.imatrix != "") != (f.imatrixOut != "") || (f.imatrix != "" && f.dropLayers == "") {
		return badInput(errors.New("--imatrix and --imatrix-out go together, with --drop-layers"))
	}
	if same, _ := sameFile(in, f.out); same {
		return badInput(fmt.Errorf("input and output are the same: %s", in))
	}
	if _, err := os.Stat(in); err != nil {
		return badInput(err)
	}
	if err := prune.CheckOutput(f.out, hf); err != nil {
		return pruneError(err)
	}
	if f.imatrixOut != "" {
		if err := prune.CheckOutput(f.imatrixOut, false); err != nil {
			return pruneError(err)
		}
	}
	sum := &pruneSummary{Input: in, Output: f.out, Format: "gguf"}
	if hf {
		sum.Format = "safetensors"
	}
	var err error
	switch {
	case unstructured:
		err = pruneUnstructured(ctx, g, f, in, hf, sum)
	case f.structured != "":
		err = pruneStructured(ctx, g, f, in, hf, sum)
	default:
		err = pruneDropLayers(ctx, g, f, in, hf, sum)
	}
	if err != nil {
		return pruneError(err)
	}
	sum.Seconds = time.Since(start).Seconds()
	if g.json {
		return printJSON(sum)
	}
	fmt.Printf("wrote %s (%s): %s, %d → %d parameters", f.out, sum.Format, sum.Mode, sum.ParamsBefore, sum.ParamsAfter)
	if sum.ZerosAfter > 0 {
		fmt.Printf(", %.1f%% zeros", 100*float64(sum.ZerosAfter)/float64(max(sum.ParamsAfter, 1)))
	}
	if sum.LossBefore != nil && sum.LossAfter != nil {
		fmt.Printf(", calibration loss %.4f → %.4f", *sum.LossBefore, *sum.LossAfter)
	}
	fmt.Printf(" in %.1fs\n", sum.Seconds)
	return nil
}

// calibration reads DATA, tokenizes it with the model's tokenizer (BOS first when the
// vocabulary adds one, as perplexity does) and cuts the sequences.
func calibration(f pruneFlags, md gguf.Metadata, sum *pruneSummary) ([][]int32, error) {
	if f.calib == "" {
		return nil, badInput(errors.New("this prune needs calibration data: give --calib"))
	}
	text, err := eval.ReadText(f.calib, datasets.Options{})
	if err != nil {
		return nil, badInput(err)
	}
	tok, err := tokenizer.FromGGUF(md)
	if err != nil {
		return nil, badInput(fmt.Errorf("the model's tokenizer: %w", err))
	}
	// Tokenize only about what the sequences need (generously: 16 bytes a token), so a large
	// corpus costs no more than its head.
	if need := 16 * f.samples * f.length; f.samples > 0 && f.length > 0 && len(text) > need {
		text = text[:need]
	}
	ids, err := tok.Encode(text, tokenizer.EncodeOptions{AddSpecial: true})
	if err != nil {
		return nil, badInput(fmt.Errorf("tokenizing %s: %w", f.calib, err))
	}
	bos := int32(-1)
	if tok.AddBOS() {
		bos = tok.BOS()
	}
	seqs, err := prune.CalibrationSequences(ids, f.samples, f.length, bos)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.calib, err)
	}
	sum.Calibration = &pruneCalibration{Source: f.calib, Sequences: f.samples, Length: f.length}
	return seqs, nil
}

// modelLoss returns the mean NLL of seqs under the float model.
func modelLoss(ctx context.Context, fm *prune.FloatModel, seqs [][]int32, threads int) (*float64, error) {
	m, err := fm.Runtime(runtime.Options{Threads: threads})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	l, err := prune.MeanNLL(ctx, m, seqs)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// saveFloat writes the float model as GGUF or as a Hugging Face folder.
func saveFloat(ctx context.Context, fm *prune.FloatModel, out string, hf bool) error {
	if hf {
		return fm.WriteHF(ctx, out)
	}
	return fm.WriteGGUF(out)
}

func pruneUnstructured(ctx context.Context, g *globalOptions, f pruneFlags, in string, hf bool, sum *pruneSummary) error {
	if f.method == "" {
		return badInput(errors.New("give --method magnitude, wanda or sparsegpt"))
	}
	method, err := prune.ParseMethod(f.method)
	if err != nil {
		return err
	}
	pat, err := prune.ParsePattern(f.pattern)
	if err != nil {
		return err
	}
	if f.sparsity < 0 || f.sparsity >= 1 || f.sparsity != f.sparsity {
		return badInput(fmt.Errorf("--sparsity %g outside [0, 1)", f.sparsity))
	}
	if pat.IsZero() && f.sparsity == 0 && f.schedule == "" {
		return badInput(errors.New("give --sparsity, --pattern or --sparsity-schedule"))
	}
	var sched map[int]float64
	if f.schedule != "" {
		s := f.schedule
		if name, ok := strings.CutPrefix(s, "@"); ok {
			b, err := os.ReadFile(name)
			if err != nil {
				return badInput(fmt.Errorf("--sparsity-schedule: %w", err))
			}
			s = string(b)
		}
		if sched, err = prune.ParseSchedule(s); err != nil {
			return err
		}
	}
	fm, err := prune.LoadFloat(in)
	if err != nil {
		return err
	}
	var seqs [][]int32
	if method != prune.MethodMagnitude || f.calib != "" {
		if seqs, err = calibration(f, fm.Metadata, sum); err != nil {
			return err
		}
	}
	o := prune.UnstructuredOptions{Method: method, Sparsity: f.sparsity, Schedule: sched, Pattern: pat, Threads: f.threads}
	sum.Mode = string(method)
	if !pat.IsZero() {
		sum.Mode += " " + pat.String()
	} else {
		sum.Mode += fmt.Sprintf(" %g", f.sparsity)
	}
	sum.ParamsBefore, _ = fm.Params()
	if seqs != nil {
		if sum.LossBefore, err = modelLoss(ctx, fm, seqs, f.threads); err != nil {
			return err
		}
	}
	rep := newReporter(g)
	rep.Start("prune "+sum.Mode, int64(fm.Config.Layers), false)
	o.Progress = func(done, total int64) { rep.Update(done) }
	res, err := prune.PruneModel(ctx, fm, seqs, o)
	rep.Finish()
	if err != nil {
		return err
	}
	for _, b := range res.Blocks {
		rep.Logf("block %d: sparsity %.3f, output error %.4g", b.Layer, b.Target, b.OutputError)
	}
	sum.Unstructured = res
	sum.ParamsAfter, sum.ZerosAfter = fm.Params()
	if seqs != nil {
		if sum.LossAfter, err = modelLoss(ctx, fm, seqs, f.threads); err != nil {
			return err
		}
	}
	return saveFloat(ctx, fm, f.out, hf)
}

func pruneStructured(ctx context.Context, g *globalOptions, f pruneFlags, in string, hf bool, sum *pruneSummary) error {
	spec, err := prune.ParseStructuredSpec(f.structured)
	if err != nil {
		return err
	}
	fm, err := prune.LoadFloat(in)
	if err != nil {
		return err
	}
	seqs, err := calibration(f, fm.Metadata, sum)
	if err != nil {
		return err
	}
	sum.Mode = "structured " + spec.String()
	sum.ParamsBefore, _ = fm.Params()
	m, err := fm.Runtime(runtime.Options{Threads: f.threads})
	if err != nil {
		return err
	}
	rep := newReporter(g)
	rep.Logf("measuring importance on %d sequences of %d tokens", len(seqs), f.length)
	imp, err := prune.MeasureImportance(ctx, m, fm.Config, seqs)
	if err == nil {
		var l float64
		l, err = prune.MeanNLL(ctx, m, seqs)
		sum.LossBefore = &l
	}
	m.Close()
	if err != nil {
		return err
	}
	res, err := fm.ApplyStructured(imp, spec)
	if err != nil {
		return err
	}
	sum.Structured = res
	sum.ParamsAfter, sum.ZerosAfter = fm.Params()
	if sum.LossAfter, err = modelLoss(ctx, fm, seqs, f.threads); err != nil {
		return err
	}
	return saveFloat(ctx, fm, f.out, hf)
}

func pruneDropLayers(ctx context.Context, g *globalOptions, f pruneFlags, in string, hf bool, sum *pruneSummary) error {
	list, auto, err := prune.ParseDropLayers(f.dropLayers)
	if err != nil {
		return err
	}
	st, err := os.Stat(in)
	if err != nil {
		return badInput(err)
	}
	rep := newReporter(g)
	sum.Mode = "drop-layers " + f.dropLayers
	if !st.IsDir() && !hf {
		// Byte copies straight from the file, whatever its types.
		gf, err := gguf.Open(in)
		if err != nil {
			return badInput(err)
		}
		md := gf.Metadata
		for _, t := range gf.Tensors {
			sum.ParamsBefore += int64(t.NumElements())
		}
		gf.Close()
		if auto > 0 {
			seqs, err := calibration(f, md, sum)
			if err != nil {
				return err
			}
			m, err := runtime.Load(in, runtime.Options{Threads: f.threads})
			if err != nil {
				return badInput(err)
			}
			sum.Influence, err = prune.LayerInfluence(ctx, m, seqs)
			m.Close()
			if err != nil {
				return err
			}
			if list, err = prune.DropLeastInfluential(sum.Influence, auto); err != nil {
				return err
			}
		}
		// Plan the imatrix first: a bad one must fail before the model is written.
		if f.imatrix != "" {
			if err := checkImatrixPlan(f.imatrix, list, md); err != nil {
				return err
			}
		}
		plan, err := prune.DropLayersFile(in, f.out, list, 0)
		if err != nil {
			return err
		}
		for _, t := range plan.Tensors {
			sum.ParamsAfter += int64(t.NumElements())
		}
		sum.DroppedLayers = list
		if f.imatrix != "" {
			blocks := len(plan.Kept) + len(list)
			if _, err := prune.DropLayersFile(f.imatrix, f.imatrixOut, list, blocks); err != nil {
				os.Remove(f.out)
				return err
			}
			sum.ImatrixOut = f.imatrixOut
		}
		rep.Logf("dropped blocks %v; per-layer metadata arrays cut: %v", list, plan.CutArrays)
		return nil
	}
	if f.imatrix != "" {
		return badInput(errors.New("--imatrix is renumbered only when a GGUF is written as GGUF"))
	}
	fm, err := prune.LoadFloat(in)
	if errors.Is(err, prune.ErrQuantized) {
		return fmt.Errorf("%w (a quantized model can only be written as GGUF: leave out --to safetensors)", err)
	}
	if err != nil {
		return err
	}
	sum.ParamsBefore, _ = fm.Params()
	if auto > 0 {
		seqs, err := calibration(f, fm.Metadata, sum)
		if err != nil {
			return err
		}
		m, err := fm.Runtime(runtime.Options{Threads: f.threads})
		if err != nil {
			return err
		}
		sum.Influence, err = prune.LayerInfluence(ctx, m, seqs)
		m.Close()
		if err != nil {
			return err
		}
		if list, err = prune.DropLeastInfluential(sum.Influence, auto); err != nil {
			return err
		}
	}
	if err := fm.DropLayers(list); err != nil {
		return err
	}
	sum.DroppedLayers = list
	sum.ParamsAfter, _ = fm.Params()
	return saveFloat(ctx, fm, f.out, hf)
}

// checkImatrixPlan checks that the importance matrix can be renumbered for the model's blocks.
func checkImatrixPlan(path string, drop []int, md gguf.Metadata) error {
	arch, _ := md.String("general.architecture")
	blocks, _ := md.Uint(arch + ".block_count")
	f, err := gguf.Open(path)
	if err != nil {
		return badInput(fmt.Errorf("--imatrix: %w", err))
	}
	defer f.Close()
	if _, err := prune.PlanDropLayers(f, drop, int(blocks)); err != nil {
		return fmt.Errorf("--imatrix %s: %w", path, err)
	}
	return nil
}
