package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/kernels"
)

func init() { register(newBenchCmd) }

// benchOptions are the flags of `bench`.
type benchOptions struct {
	models      []string
	random      []string
	prompts     []int // -p values: one pp test each (0: none)
	gens        []int // -n values: one tg test each (0: none)
	reps        int
	threads     []int
	output      string // -o: table, md, csv, json or jsonl
	kernels     bool   // --kernels: kernel throughput against a memory read instead of models
	kernelMiB   int
	kernelTypes []string
	kernelCheck float64
}

// benchRow is one line of bench's report (and one element of its --json output).
type benchRow struct {
	Model     string    `json:"model"`
	SizeBytes int64     `json:"size_bytes"`
	Params    int64     `json:"params"`
	Kernels   string    `json:"kernels"`
	Threads   int       `json:"threads"`
	Test      string    `json:"test"`
	NPrompt   int       `json:"n_prompt"`
	NGen      int       `json:"n_gen"`
	AvgTS     float64   `json:"avg_ts"`
	StddevTS  float64   `json:"stddev_ts"`
	SamplesTS []float64 `json:"samples_ts"`
	CPUTS     float64   `json:"avg_tokens_per_cpu_second,omitempty"`
	MaxRSS    int64     `json:"max_rss_bytes,omitempty"`
	// CPU, OS and Arch name the machine that measured the row, so that a --json file written
	// on a device can be given to eval --latency-from; MarshalJSON fills them in (device.go).
	CPU  string `json:"cpu,omitempty"`
	OS   string `json:"os"`
	Arch string `json:"arch"`
}

// newBenchCmd is `bench -m MODEL`: llama-bench style speed measurement.
func newBenchCmd(g *globalOptions) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench -m MODEL.gguf",
		Short: "Measure prompt processing and generation speed (tokens/s), like llama-bench",
		Long: `bench measures the pure-Go runtime the way llama-bench measures llama.cpp: prompt processing
(pp, -p random tokens in one batch) and text generation (tg, -n tokens one at a time), each
repeated -r times after a warm-up, reported as mean ± standard deviation of tokens per second.
--random SIZE:TYPE benchmarks a model of random weights written to a temporary folder first
(SIZE 1b or tiny; TYPE f32, f16, bf16, q8_0, q4_0, q4_k, q4_k_m, q6_k, ...), removed afterwards.
Tokens per second of process CPU time (t/cpu-s, all threads summed) are reported too: on a
machine shared with other work that is what an idle core would do. So is the peak resident
memory of the process (VmHWM): about the model file plus the KV cache, since weights are used
in place in the memory map.

As with llama-bench, -p and -n take comma lists (-p 64,128 -n 16,32: each value is a test of its
own) and -o picks the output: table (default), md, csv, json (the same as --json) or jsonl.

--kernels measures the kernels instead of a model: for each weight type, the one-token
matrix-vector product over --kernel-mib MiB of weights (more than a last-level cache) against a
plain read of the same bytes on the same threads, best of -r passes each, and prints both in
GB/s and their ratio. The ratio does not depend much on the machine's memory speed; a kernel far
below it has a pathology (such as SSE/AVX transitions). --check F fails (exit 3) when a SIMD
kernel's ratio is below F, or F/4 for the compute-bound types (docs/PERFORMANCE.md).`,
		Example: `  mcompress bench -m model-q4_k_m.gguf
  mcompress bench -m a.gguf -m b.gguf -p 512 -n 128 -r 5 -t 1,2 --json
  mcompress bench --random 1b:q4_k_m -r 3 -p 64,128 -n 16,32 -o md
  mcompress bench --kernels --check 0.2`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.models, "model", "m", nil, "GGUF model file (repeatable)")
	f.StringArrayVar(&o.random, "random", nil, "benchmark a random-weight model SIZE:TYPE, e.g. 1b:q4_k_m (repeatable)")
	f.IntSliceVarP(&o.prompts, "n-prompt", "p", []int{512}, "prompt tokens for a pp test, comma list or repeated (0: skip)")
	f.IntSliceVarP(&o.gens, "n-gen", "n", []int{128}, "generated tokens for a tg test, comma list or repeated (0: skip)")
	f.IntVarP(&o.reps, "repetitions", "r", 5, "timed repetitions of each test")
	f.IntSliceVarP(&o.threads, "threads", "t", []int{0}, "thread counts to test (0: one per CPU)")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, md, csv, json or jsonl (json is --json)")
	f.BoolVar(&o.kernels, "kernels", false, "measure each one-token kernel's weight throughput against a plain memory read")
	f.IntVar(&o.kernelMiB, "kernel-mib", 128, "with --kernels: MiB of weights per matrix (more than the last-level cache)")
	f.StringSliceVar(&o.kernelTypes, "types", nil, "with --kernels: weight types to measure (default: all with a kernel)")
	f.Float64Var(&o.kernelCheck, "check", 0, "with --kernels: fail (exit 3) when a SIMD kernel is below this fraction of the memory read (a quarter of it for compute-bound types)")
	return cmd
}

// benchFormats are the values of -o, as llama-bench names them.
var benchFormats = []string{"table", "md", "csv", "json", "jsonl"}

func runBench(cmd *cobra.Command, g *globalOptions, o benchOptions) error {
	rep := newReporter(g)
	if g.json {
		o.output = "json"
	}
	if !slices.Contains(benchFormats, o.output) {
		return badInput(fmt.Errorf("-o %q: want one of %s", o.output, strings.Join(benchFormats, ", ")))
	}
	if o.reps <= 0 {
		return badInput(fmt.Errorf("need -r > 0 (got %d)", o.reps))
	}
	if o.kernels {
		return runBenchKernels(o, rep)
	}
	if len(o.models)+len(o.random) == 0 {
		return badInput(errors.New("give at least one --model or --random (or --kernels)"))
	}
	tests, err := benchTests(o.prompts, o.gens)
	if err != nil {
		return badInput(err)
	}
	models := append([]string(nil), o.models...)
	for _, spec := range o.random {
		path, cleanup, err := writeRandomModel(spec, rep)
		if err != nil {
			return err
		}
		defer cleanup()
		models = append(models, path)
	}
	var rows []benchRow
	for _, path := range models {
		for _, th := range o.threads {
			if err := cmd.Context().Err(); err != nil {
				return err
			}
			m, err := runtime.Load(path, runtime.Options{Threads: th})
			if err != nil {
				return err
			}
			rep.Logf("%s: %d threads, %s kernels", filepath.Base(path), m.Threads(), kernels.SIMD())
			var res []runtime.BenchResult
			for _, bt := range tests {
				r, err := runtime.Bench(m, runtime.BenchOptions{Prompt: bt.Prompt, Gen: bt.Gen, Reps: o.reps})
				if err != nil {
					m.Close()
					return err
				}
				res = append(res, r...)
			}
			size := fileSize(path)
			params, threads := m.Config().NumParams(), m.Threads()
			m.Close()
			for _, r := range res {
				row := benchRow{Model: filepath.Base(path), SizeBytes: size, Params: params, Kernels: kernels.SIMD(),
					Threads: threads, Test: r.Test, AvgTS: r.Mean, StddevTS: r.StdDev, SamplesTS: r.Samples, CPUTS: r.CPUMean, MaxRSS: maxRSS()}
				if strings.HasPrefix(r.Test, "pp") {
					row.NPrompt = r.Tokens
				} else {
					row.NGen = r.Tokens
				}
				rows = append(rows, row)
			}
		}
	}
	header := []string{"model", "size", "params", "backend", "threads", "test", "t/s", "t/cpu-s", "max RSS"}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = []string{r.Model, fmt.Sprintf("%.2f MiB", float64(r.SizeBytes)/(1<<20)), fmt.Sprintf("%.2f M", float64(r.Params)/1e6),
			"Go " + r.Kernels, strconv.Itoa(r.Threads), r.Test, fmt.Sprintf("%.2f ± %.2f", r.AvgTS, r.StddevTS),
			fmt.Sprintf("%.2f", r.CPUTS), fmt.Sprintf("%.0f MiB", float64(r.MaxRSS)/(1<<20))}
	}
	return writeBench(o.output, rows, header, cells)
}

// benchTest is one pp or tg test of bench.
type benchTest struct{ Prompt, Gen int }

// benchTests expands -p and -n lists into tests as llama-bench does: one pp test per positive
// -p value, then one tg test per positive -n value.
func benchTests(prompts, gens []int) ([]benchTest, error) {
	var tests []benchTest
	for _, p := range prompts {
		if p < 0 {
			return nil, fmt.Errorf("-p %d: want 0 or more tokens", p)
		}
		if p > 0 {
			tests = append(tests, benchTest{Prompt: p})
		}
	}
	for _, n := range gens {
		if n < 0 {
			return nil, fmt.Errorf("-n %d: want 0 or more tokens", n)
		}
		if n > 0 {
			tests = append(tests, benchTest{Gen: n})
		}
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("no test: give a positive -p or -n (got -p %v -n %v)", prompts, gens)
	}
	return tests, nil
}

// runBenchKernels is `bench --kernels`.
func runBenchKernels(o benchOptions, rep *reporter) error {
	var types []gguf.TensorType
	for _, s := range o.kernelTypes {
		t, err := gguf.ParseTensorType(s)
		if err != nil {
			return badInput(fmt.Errorf("--types %q: %w", s, err))
		}
		if !kernels.Supported(t) {
			return badInput(fmt.Errorf("--types %q: no kernel for this type", s))
		}
		types = append(types, t)
	}
	if o.kernelMiB <= 0 {
		return badInput(fmt.Errorf("--kernel-mib %d: want a positive size", o.kernelMiB))
	}
	var rows []kernelRow
	for _, th := range o.threads {
		rep.Logf("kernels: %d MiB of weights per type, %s kernels", o.kernelMiB, kernels.SIMD())
		r, err := benchKernels(types, o.kernelMiB, th, o.reps)
		if err != nil {
			return badInput(err)
		}
		rows = append(rows, r...)
	}
	header := []string{"type", "backend", "threads", "MiB", "kernel GB/s", "memory read GB/s", "ratio"}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = []string{r.Type, "Go " + r.Kernels, strconv.Itoa(r.Threads), fmt.Sprintf("%.0f", float64(r.Bytes)/(1<<20)),
			fmt.Sprintf("%.2f", r.KernelGBs), fmt.Sprintf("%.2f", r.MemoryGBs), fmt.Sprintf("%.2f", r.Ratio)}
	}
	if err := writeBench(o.output, rows, header, cells); err != nil {
		return err
	}
	return checkKernelRows(rows, o.kernelCheck)
}

// writeRandomModel writes the random model named by spec ("1b:q4_k_m") to a temporary folder.
func writeRandomModel(spec string, rep *reporter) (string, func(), error) {
	size, typ, ok := strings.Cut(strings.ToLower(spec), ":")
	if !ok {
		return "", nil, badInput(fmt.Errorf("--random %q: want SIZE:TYPE, e.g. 1b:q4_k_m", spec))
	}
	cfg, err := runtime.RandomConfig(size)
	if err != nil {
		return "", nil, badInput(err)
	}
	mixed := typ == "q4_k_m"
	if mixed {
		typ = "q4_k"
	}
	t, err := gguf.ParseTensorType(typ)
	if err != nil {
		return "", nil, badInput(fmt.Errorf("--random %q: %w", spec, err))
	}
	dir, err := os.MkdirTemp("", "mcompress-bench-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	path := filepath.Join(dir, fmt.Sprintf("random-%s-%s.gguf", size, strings.ToUpper(strings.TrimPrefix(spec, size+":"))))
	rep.Logf("writing %s", path)
	if err := runtime.WriteRandomModel(path, runtime.RandomModelOptions{Config: cfg, Type: t, Mixed: mixed, Seed: 1}); err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// kernelsName names the kernel set in use.
func kernelsName() string { return kernels.SIMD() }

// maxRSS returns the peak resident set size of the process (0 where unknown).
func maxRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
