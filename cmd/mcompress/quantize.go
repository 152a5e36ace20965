package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/internal/atomicfile"
	"github.com/mcompress/mcompress/quantize"
)

func init() { register(newQuantizeCmd) }

// newQuantizeCmd is `quantize`: an F32/F16/BF16 GGUF file to a llama.cpp quantization mix.
func newQuantizeCmd(g *globalOptions) *cobra.Command {
	var (
		output, mixName, outType, embType, imatrixPath string
		bits, threads                                  int
		pure, leaveOutput, allowRequant, dryRun        bool
		tensorTypes                                    []string
		methodName                                     string
		targetBPW                                      float64
		gf                                             gptqFlags
	)
	cmd := &cobra.Command{
		Use:   "quantize INPUT.gguf|HF_DIR [-o OUTPUT.gguf]",
		Short: "Quantize a GGUF model to a llama.cpp mix (Q4_K_M, Q8_0, IQ4_XS, ...), byte-identical to llama-quantize",
		Long: `quantize converts an F32, F16 or BF16 GGUF file to one of llama.cpp's quantization mixes with
llama-quantize's per-tensor rules (which tensors stay F32, attn_v and ffn_down get more bits in
the *_M mixes, output.weight Q6_K, row-length fallbacks) and ggml's reference quantizers: without
an importance matrix the output file is byte-identical to llama-quantize's.

INPUT may also be a Hugging Face checkpoint folder (safetensors + config.json + tokenizer):
it is converted and quantized in one streaming pass, with the same result as
"mcompress convert --outtype f32" followed by quantize.

Mixes (--type): Q2_K, Q2_K_S, Q3_K_S, Q3_K_M, Q3_K_L, Q4_0, Q4_1, Q4_K_S, Q4_K_M, Q5_0, Q5_1,
Q5_K_S, Q5_K_M, Q6_K, Q8_0, IQ4_NL, IQ4_XS, IQ3_M, IQ3_S, IQ3_XS, IQ3_XXS, IQ2_M, IQ2_S, IQ2_XS,
IQ2_XXS, IQ1_M, IQ1_S, TQ2_0, TQ1_0, F16, BF16, F32 (Q3_K, Q4_K and Q5_K mean the _M mix; the
IQ1/IQ2 mixes, IQ3_XXS and IQ3_XS need --imatrix, and are refused without it as llama-quantize
refuses them). --bits N picks a default mix for a budget of about N bits per weight:
2 Q2_K, 3 Q3_K_M, 4 Q4_K_M, 5 Q5_K_M, 6 Q6_K, 7 Q6_K, 8 Q8_0; with --imatrix, 2 IQ2_M and
3 IQ3_M. Without either, Q4_K_M.

--imatrix reads an importance matrix in either format llama-imatrix writes (GGUF or the legacy
.dat) and uses it in the importance-weighted quantizers, as llama-quantize --imatrix does.

--method chooses how each tensor is encoded, in the same standard types (llama.cpp loads the
files unchanged; see docs/QUANTIZE.md): plain (default) is llama-quantize's quantizers; search
a stronger per-block scale search (weighted by --imatrix when given); gptq error compensation
over the inputs' XᵀX, collected block by block from the calibration text --calib
(--calib-samples chunks of --calib-len tokens; --act-order visits columns by descending input
energy); gptq+search both; auto (with --target-bpw B and --calib) chooses each matrix's type
among Q2_K … Q8_0 by its measured output error on the calibration text so that the file has
about B bits per weight, and combines with the others (auto+gptq).

Rows are quantized on every core; the output does not depend on --threads. The file is written
to a temporary name and renamed when complete. Bad input (unreadable file, NaN/Inf weights,
an unknown type) exits with code 2.`,
		Example: `  mcompress quantize model-f16.gguf -o model-q4_k_m.gguf --type Q4_K_M
  mcompress quantize --bits 4 model-f32.gguf -o model-q4.gguf
  mcompress quantize --bits 4 ./Llama-3.2-1B -o llama-q4.gguf
  mcompress quantize model-f16.gguf -o model-iq4.gguf --type IQ4_XS --imatrix imatrix.gguf
  mcompress quantize model-f16.gguf -o model.gguf --type Q4_K_M --tensor-type 'attn_v=q8_0' --output-tensor-type q8_0
  mcompress quantize model-f16.gguf --type Q5_K_M --dry-run --json
  mcompress quantize model-f32.gguf -o model-gptq.gguf --type Q4_K_M --method gptq --calib train.txt --act-order`,
		Args: wantArgs(1, 1, "the input model"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := args[0]
			opts := quantize.Options{Pure: pure, LeaveOutputTensor: leaveOutput, AllowRequantize: allowRequant, Threads: threads}
			var err error
			switch {
			case mixName != "" && cmd.Flags().Changed("bits"):
				return badInput(errors.New("give either --type or --bits, not both"))
			case mixName != "":
				opts.Mix, err = quantize.ParseMix(mixName)
			case cmd.Flags().Changed("bits") && imatrixPath != "":
				opts.Mix, err = quantize.MixForBitsImatrix(bits)
			case cmd.Flags().Changed("bits"):
				opts.Mix, err = quantize.MixForBits(bits)
			default:
				opts.Mix, err = quantize.ParseMix("Q4_K_M")
			}
			if err != nil {
				return badInput(err)
			}
			if outType != "" {
				t, err := quantize.ParseType(outType)
				if err != nil {
					return badInput(fmt.Errorf("--output-tensor-type: %w", err))
				}
				opts.OutputTensorType = &t
			}
			if embType != "" {
				t, err := quantize.ParseType(embType)
				if err != nil {
					return badInput(fmt.Errorf("--token-embedding-type: %w", err))
				}
				opts.TokenEmbeddingType = &t
			}
			for _, s := range tensorTypes {
				r, err := quantize.ParseTensorTypeRule(s)
				if err != nil {
					return badInput(fmt.Errorf("--tensor-type: %w", err))
				}
				opts.TensorTypes = append(opts.TensorTypes, r)
			}
			rep := newReporter(g)
			if imatrixPath != "" {
				im, err := quantize.ReadImatrix(imatrixPath)
				if err != nil {
					return err
				}
				opts.Imatrix, opts.ImatrixFile = im, imatrixPath
				rep.Logf("importance matrix: %d entries from %s", len(im.Entries), imatrixPath)
			}
			method, err := parseQuantizeMethod(methodName)
			if err != nil {
				return badInput(err)
			}
			opts.Search = method.search
			src, err := openQuantizeSource(in, threads)
			if err != nil {
				return err
			}
			defer src.Close()
			gf.threads, gf.logf = threads, rep.Logf
			if method.auto {
				rules, err := autoRules(cmd.Context(), src, opts, gf, targetBPW)
				if err != nil {
					return err
				}
				opts.TensorTypes = append(rules, opts.TensorTypes...)
			}
			if method.gptq && !dryRun {
				gf.progress = func(done, total int64) {
					if done == 1 {
						rep.Start("gptq blocks", total, false)
					}
					rep.Update(done)
					if done == total {
						rep.Finish()
					}
				}
				if opts.Prequantized, err = runGPTQ(cmd.Context(), src, opts, gf); err != nil {
					return err
				}
			}

			if dryRun {
				plan, err := quantize.MakePlan(src, opts)
				if err != nil {
					return err
				}
				return printPlan(g, plan)
			}
			if output == "" {
				clean := filepath.Clean(in)
				stem := strings.TrimSuffix(filepath.Base(clean), filepath.Ext(clean))
				output = filepath.Join(filepath.Dir(clean), stem+"-"+opts.Mix.Name+".gguf")
			}
			if same, _ := sameFile(in, output); same {
				return badInput(fmt.Errorf("input and output are the same file: %s", in))
			}
			if err := atomicfile.CheckWritable(output); err != nil {
				return badInput(err)
			}
			started := false
			opts.Progress = func(done, total int64) {
				if !started {
					rep.Start("quantize "+opts.Mix.Name, total, true)
					started = true
				}
				rep.Update(done)
			}
			sum, err := quantize.Run(cmd.Context(), src, output, opts)
			if started {
				rep.Finish()
			}
			if err != nil {
				return err
			}
			for _, w := range condenseWarnings(sum.Warnings, 3) {
				rep.Logf("warning: %s", w)
			}
			// What the file really holds: a mix keeps norms in F32 and may fall back to wider
			// types where rows do not fill a block, so "Q4_0" can be far from 4.5 bits.
			size, err := eval.ModelSize(output)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(struct {
					Output string `json:"output"`
					*quantize.Summary
					Types []eval.TypeShare `json:"types"`
				}{output, sum, size.Types})
			}
			fmt.Printf("wrote %s: %s, %d tensors, %.2f MiB -> %.2f MiB (%.2f bits per weight) in %.1fs (%.0f MB/s of input)\n",
				output, sum.Mix, len(sum.Tensors), float64(sum.InputBytes)/(1<<20), float64(sum.FileBytes)/(1<<20),
				sum.BitsPerWeight, sum.Seconds, float64(sum.InputBytes)/1e6/max(sum.Seconds, 1e-9))
			fmt.Printf("  holds %s\n", size.TypesSummary())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "output GGUF file (default: INPUT-MIX.gguf beside the input)")
	f.StringVarP(&mixName, "type", "t", "", "quantization mix, e.g. Q4_K_M, Q8_0, IQ4_XS (default Q4_K_M)")
	f.IntVar(&bits, "bits", 4, "pick the default mix for about N bits per weight (2 to 8)")
	f.BoolVar(&pure, "pure", false, "no per-tensor mix rules: every quantizable tensor gets the mix's default type")
	f.StringVar(&outType, "output-tensor-type", "", "type of output.weight (e.g. q8_0, f16)")
	f.StringVar(&embType, "token-embedding-type", "", "type of token_embd.weight")
	f.BoolVar(&leaveOutput, "leave-output-tensor", false, "keep output.weight in its input type")
	f.StringArrayVar(&tensorTypes, "tensor-type", nil, "REGEX=TYPE: force the type of matching tensors (repeatable; first match wins)")
	f.BoolVar(&allowRequant, "allow-requantize", false, "allow quantizing tensors that are already quantized")
	f.StringVar(&imatrixPath, "imatrix", "", "importance matrix from llama-imatrix (GGUF or legacy .dat)")
	f.IntVar(&threads, "threads", 0, "goroutines quantizing rows (0: all cores); the output does not depend on it")
	f.StringVar(&methodName, "method", "plain", "how tensors are encoded: plain (llama-quantize's), or search, gptq, auto joined by '+'")
	f.Float64Var(&targetBPW, "target-bpw", 0, "--method auto: bits per weight of the whole file")
	f.StringVar(&gf.calib, "calib", "", "calibration text (or dataset) for --method gptq")
	f.IntVar(&gf.samples, "calib-samples", 128, "calibration chunks for --method gptq")
	f.IntVar(&gf.ctxLen, "calib-len", 512, "tokens per calibration chunk for --method gptq")
	f.BoolVar(&gf.actOrder, "act-order", false, "GPTQ: visit columns by descending diagonal of XᵀX")
	f.BoolVar(&gf.sequential, "gptq-sequential", true, "GPTQ: recollect each input of a block after the matrices before it are quantized (4 calibration passes per block; false: 1)")
	f.Float64Var(&gf.damp, "gptq-damp", 0.01, "GPTQ: dampening, a fraction of the mean diagonal of XᵀX")
	f.BoolVar(&dryRun, "dry-run", false, "print the type chosen for each tensor and the output size, write nothing")
	return cmd
}

// printPlan prints a dry-run plan: per tensor its types, as a table or JSON.
func printPlan(g *globalOptions, plan *quantize.Plan) error {
	type row struct {
		Name  string   `json:"name"`
		Shape []uint64 `json:"shape"`
		From  string   `json:"from"`
		Type  string   `json:"type"`
		Bytes uint64   `json:"bytes"`
	}
	var rows []row
	var total, weights uint64
	for _, p := range plan.Tensors {
		info := gguf.TensorInfo{Name: p.Name, Type: p.To, Dims: p.Dims}
		rows = append(rows, row{p.Name, p.Dims, p.From.String(), p.To.String(), info.Size()})
		total += info.Size()
		weights += info.NumElements()
	}
	bpw := 0.0
	if weights > 0 {
		bpw = float64(total) * 8 / float64(weights)
	}
	if g.json {
		return printJSON(struct {
			Mix           string   `json:"mix"`
			Tensors       []row    `json:"tensors"`
			TensorBytes   uint64   `json:"tensor_bytes"`
			BitsPerWeight float64  `json:"bits_per_weight"`
			Warnings      []string `json:"warnings,omitempty"`
		}{plan.Mix.Name, rows, total, bpw, plan.Warnings})
	}
	for _, r := range rows {
		fmt.Printf("%-40s %-20s %6s -> %-6s %10d bytes\n", r.Name, fmt.Sprint(r.Shape), r.From, r.Type, r.Bytes)
	}
	for _, w := range plan.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	fmt.Printf("%s: %d tensors, %.2f MiB of tensor data, %.2f bits per weight\n", plan.Mix.Name, len(rows), float64(total)/(1<<20), bpw)
	return nil
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// quantizeSource is a quantize.Source that holds files open.
type quantizeSource interface {
	quantize.Source
	Close() error
}

// openQuantizeSource opens a GGUF file, or a Hugging Face folder through the converter.
func openQuantizeSource(path string, threads int) (quantizeSource, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return quantize.OpenHF(path, threads)
	}
	return quantize.OpenGGUF(path)
}

// condenseWarnings keeps the first n warnings and sums up the rest in one line, so that a model
// whose every tensor falls back to another type does not flood the log (--json and --dry-run
// list them all).
func condenseWarnings(ws []string, n int) []string {
	if len(ws) <= n+1 {
		return ws
	}
	return append(ws[:n:n], fmt.Sprintf("... and %d more like these (--dry-run or --json lists them all)", len(ws)-n))
}
