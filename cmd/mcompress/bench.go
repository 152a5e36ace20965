package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

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
	prompt, gen int
	reps        int
	threads     []int
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
in place in the memory map.`,
		Example: `  mcompress bench -m model-q4_k_m.gguf
  mcompress bench -m a.gguf -m b.gguf -p 512 -n 128 -r 5 -t 1,2 --json
  mcompress bench --random 1b:q4_k_m -r 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.models, "model", "m", nil, "GGUF model file (repeatable)")
	f.StringArrayVar(&o.random, "random", nil, "benchmark a random-weight model SIZE:TYPE, e.g. 1b:q4_k_m (repeatable)")
	f.IntVarP(&o.prompt, "n-prompt", "p", 512, "prompt tokens for the pp test (0: skip)")
	f.IntVarP(&o.gen, "n-gen", "n", 128, "generated tokens for the tg test (0: skip)")
	f.IntVarP(&o.reps, "repetitions", "r", 5, "timed repetitions of each test")
	f.IntSliceVarP(&o.threads, "threads", "t", []int{0}, "thread counts to test (0: one per CPU)")
	return cmd
}

func runBench(cmd *cobra.Command, g *globalOptions, o benchOptions) error {
	rep := newReporter(g)
	if len(o.models)+len(o.random) == 0 {
		return badInput(errors.New("give at least one --model or --random"))
	}
	if o.reps <= 0 || o.prompt < 0 || o.gen < 0 || o.prompt+o.gen == 0 {
		return badInput(fmt.Errorf("need -r > 0 and a positive -p or -n (got -r %d -p %d -n %d)", o.reps, o.prompt, o.gen))
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
				return badInput(err)
			}
			rep.Logf("%s: %d threads, %s kernels", filepath.Base(path), m.Threads(), kernels.SIMD())
			res, err := runtime.Bench(m, runtime.BenchOptions{Prompt: o.prompt, Gen: o.gen, Reps: o.reps})
			size := fileSize(path)
			params, threads := m.Config().NumParams(), m.Threads()
			m.Close()
			if err != nil {
				return err
			}
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
	if g.json {
		return printJSON(rows)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "model\tsize\tparams\tbackend\tthreads\ttest\tt/s\tt/cpu-s\tmax RSS\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.2f MiB\t%.2f M\tGo %s\t%d\t%s\t%.2f ± %.2f\t%.2f\t%.0f MiB\t\n", r.Model, float64(r.SizeBytes)/(1<<20),
			float64(r.Params)/1e6, r.Kernels, r.Threads, r.Test, r.AvgTS, r.StddevTS, r.CPUTS, float64(r.MaxRSS)/(1<<20))
	}
	return tw.Flush()
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
		return "", nil, badInput(err)
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
