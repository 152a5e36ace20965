package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/runtime"
)

// Options configure Run, the comparison of several variants of a model.
type Options struct {
	// Models are the GGUF files to compare, in report order.
	Models []string
	// Base is the reference for KL-divergence and the gates; "" means Models[0]. A base that
	// is not among Models is evaluated too and reported first.
	Base string
	// Data is the evaluation text (see ReadText); "" skips perplexity and KL-divergence.
	Data string
	// DataOptions select the format, split and text column of Data.
	DataOptions datasets.Options
	// Context, Stride, MaxChunks and BatchSize are as in PerplexityOptions. With Stride > 0
	// KL-divergence is not computed (its base format needs llama.cpp's chunks).
	Context, Stride, MaxChunks, BatchSize int
	// KLBasePath, when set, keeps the base's log-probabilities in this file (llama.cpp's
	// --kl-divergence-base format); otherwise a temporary file is used and removed.
	KLBasePath string
	// Tasks are multiple-choice task files (see LoadTask), scored on every model.
	Tasks []string
	// TaskOptions apply to every task (Name is ignored); Score controls the scoring.
	TaskOptions TaskOptions
	Score       ScoreOptions
	// Latency controls the speed measurement; SkipLatency turns it off.
	Latency     LatencyOptions
	SkipLatency bool
	// Threads is the runtime's worker count (0: every core).
	Threads int
	// Gates are the quality limits checked against the base.
	Gates Gates
	// Budgets are the size budgets and speed floors the report recommends a variant for
	// (defaults when empty: see Report.Recommendations).
	Budgets Budgets
	// Lineage maps a model's path or report name to what it was made from and how, shown in
	// the report.
	Lineage map[string]string
	// Progress, when not nil, reports the stage being run ("teacher-Q4_K_M: perplexity") and
	// its progress.
	Progress func(stage string, done, total int64)
}

// Gates are quality limits for CI. A zero or negative field disables its gate.
type Gates struct {
	// MaxPPLIncrease is the largest allowed PPL(model)/PPL(base) - 1 (0.05 for 5%).
	MaxPPLIncrease float64 `json:"max_ppl_increase,omitempty"`
	// MaxKLD is the largest allowed mean KL-divergence from the base, in nats.
	MaxKLD float64 `json:"max_kld,omitempty"`
	// MinAccuracy is the lowest allowed accuracy (a fraction) on every task a model is scored on.
	MinAccuracy float64 `json:"min_accuracy,omitempty"`
	// MaxSizeBytes is the largest allowed model file.
	MaxSizeBytes int64 `json:"max_size_bytes,omitempty"`
}

// any reports whether a gate is set.
func (g Gates) any() bool {
	return g.MaxPPLIncrease > 0 || g.MaxKLD > 0 || g.MinAccuracy > 0 || g.MaxSizeBytes > 0
}

// limits describes the gates that are set, one phrase each.
func (g Gates) limits() []string {
	var lim []string
	if g.MaxPPLIncrease > 0 {
		lim = append(lim, fmt.Sprintf("perplexity at most %.2f%% above the base", 100*g.MaxPPLIncrease))
	}
	if g.MaxKLD > 0 {
		lim = append(lim, fmt.Sprintf("mean KL-divergence at most %g", g.MaxKLD))
	}
	if g.MinAccuracy > 0 {
		lim = append(lim, fmt.Sprintf("accuracy at least %.2f%% on every task", 100*g.MinAccuracy))
	}
	if g.MaxSizeBytes > 0 {
		lim = append(lim, fmt.Sprintf("file at most %d bytes (%.2f MiB)", g.MaxSizeBytes, float64(g.MaxSizeBytes)/(1<<20)))
	}
	return lim
}

// Run evaluates every model as Options say and returns the report, whose Gates.Failures lists
// the models that fail a gate (Run itself succeeds then; see Report.GateError). Any other
// problem (unreadable model or data, bad task record, text too short) is an error.
func Run(ctx context.Context, o Options) (*Report, error) {
	if len(o.Models) == 0 && o.Base == "" {
		return nil, bad(fmt.Errorf("eval: no models to evaluate"))
	}
	if o.Data == "" && len(o.Tasks) == 0 {
		return nil, bad(fmt.Errorf("eval: nothing to measure: give evaluation text (--data) or tasks (--task)"))
	}
	if o.Gates.MaxKLD > 0 && (o.Data == "" || o.Stride > 0) {
		return nil, bad(fmt.Errorf("eval: the KL-divergence gate needs evaluation text with llama.cpp's chunking (--data, no --stride)"))
	}
	if o.Gates.MaxPPLIncrease > 0 && o.Data == "" {
		return nil, bad(fmt.Errorf("eval: the perplexity gate needs evaluation text (--data)"))
	}
	paths := orderModels(o.Models, o.Base)
	names := modelNames(paths)
	progress := func(stage string) func(done, total int64) {
		if o.Progress == nil {
			return nil
		}
		return func(done, total int64) { o.Progress(stage, done, total) }
	}

	// Models' headers, tasks and the text are read first, so that bad input fails before hours
	// of evaluation.
	sizes := make([]*Size, len(paths))
	for i, p := range paths {
		s, err := ModelSize(p)
		if err != nil {
			return nil, err
		}
		sizes[i] = s
	}
	tasks := make([]*Task, len(o.Tasks))
	for i, p := range o.Tasks {
		to := o.TaskOptions
		to.Name = ""
		t, err := LoadTask(p, to)
		if err != nil {
			return nil, err
		}
		tasks[i] = t
	}
	var text string
	if o.Data != "" {
		var err error
		if text, err = ReadText(o.Data, o.DataOptions); err != nil {
			return nil, err
		}
	}

	rep := &Report{Tool: "mcompress eval", Base: paths[0], Gates: GateReport{Gates: o.Gates, Passed: true}, Budgets: o.Budgets}
	popts := PerplexityOptions{Context: o.Context, Stride: o.Stride, MaxChunks: o.MaxChunks, BatchSize: o.BatchSize, Source: o.Data}
	var tokens []int32
	var kb *KLBase
	defer func() {
		if kb != nil {
			kb.Close()
			if o.KLBasePath == "" {
				os.Remove(kb.Path)
			}
		}
	}()
	useKLD := o.Data != "" && o.Stride == 0 && (len(paths) > 1 || o.KLBasePath != "")

	for i, path := range paths {
		mr := ModelReport{Name: names[i], Path: path, IsBase: i == 0, Lineage: o.Lineage[names[i]]}
		if l, ok := o.Lineage[path]; ok {
			mr.Lineage = l
		}
		mr.Size = sizes[i]
		m, err := runtime.Load(path, runtime.Options{Threads: o.Threads})
		if err != nil {
			return nil, adopt(fmt.Errorf("eval: %w", err))
		}
		ctxLen := max(o.Latency.PromptTokens, 0) + max(o.Latency.GenTokens, 0)
		if o.Latency.PromptTokens <= 0 {
			ctxLen += defaultLatencyPrompt
		}
		if o.Latency.GenTokens <= 0 {
			ctxLen += defaultLatencyGen
		}
		mr.PeakMemoryBytes = mr.Size.TensorBytes + runtime.SessionBytes(m.Config(), ctxLen)
		err = func() error {
			if o.Data != "" {
				if i == 0 {
					if tokens, err = Tokenize(m, text); err != nil {
						return bad(fmt.Errorf("eval: %s: %w", o.Data, err))
					}
					rep.Data = &DataInfo{Path: o.Data, Tokens: len(tokens)}
				} else if m.Config().VocabSize != rep.vocab {
					return bad(fmt.Errorf("eval: %s has a vocabulary of %d tokens but the base %s has %d: variants must share the tokenizer", path, m.Config().VocabSize, paths[0], rep.vocab))
				}
				popts.Progress = progress(mr.Name + ": perplexity")
				switch {
				case i == 0 && useKLD:
					kpath := o.KLBasePath
					if kpath == "" {
						f, err := os.CreateTemp("", "mcompress-kld-base-*.bin")
						if err != nil {
							return fmt.Errorf("eval: %w", err)
						}
						kpath = f.Name()
						f.Close()
					}
					if mr.Perplexity, err = WriteKLBase(ctx, m, tokens, kpath, popts); err != nil {
						if o.KLBasePath == "" {
							os.Remove(kpath)
						}
						return err
					}
					if kb, err = OpenKLBase(kpath); err != nil {
						return err
					}
				case useKLD:
					k, err := KLDivergence(ctx, m, kb, KLDOptions{MaxChunks: o.MaxChunks, BatchSize: o.BatchSize, Progress: popts.Progress})
					if err != nil {
						return fmt.Errorf("eval: %s: %w", path, err)
					}
					mr.KLD, mr.Perplexity = k, k.Perplexity()
				default:
					if mr.Perplexity, err = Perplexity(ctx, m, tokens, popts); err != nil {
						return fmt.Errorf("eval: %s: %w", path, err)
					}
				}
				if i == 0 {
					rep.vocab = m.Config().VocabSize
					rep.Data.Context, rep.Data.Stride = mr.Perplexity.Context, mr.Perplexity.Stride
					rep.Data.Chunks, rep.Data.Scored = mr.Perplexity.Chunks, mr.Perplexity.Scored
				}
			}
			if !o.SkipLatency {
				lt := tokens
				if len(lt) == 0 {
					lt = []int32{int32(max(0, m.Config().BOS))}
				}
				if o.Progress != nil {
					o.Progress(mr.Name+": latency", 0, 1)
				}
				if mr.Latency, err = MeasureLatency(ctx, m, lt, o.Latency); err != nil {
					return fmt.Errorf("eval: %s: %w", path, err)
				}
			}
			for _, t := range tasks {
				so := o.Score
				so.Progress = progress(mr.Name + ": " + t.Name)
				tr, err := ScoreTask(ctx, m, t, so)
				if err != nil {
					return fmt.Errorf("eval: %s: %w", path, err)
				}
				mr.Tasks = append(mr.Tasks, *tr)
			}
			return nil
		}()
		m.Close()
		if err != nil {
			return nil, err
		}
		rep.Models = append(rep.Models, mr)
	}
	rep.finish()
	return rep, nil
}

// orderModels puts the base first and drops repeats of it.
func orderModels(models []string, base string) []string {
	if base == "" {
		return append([]string{}, models...)
	}
	out := []string{base}
	for _, m := range models {
		if filepath.Clean(m) != filepath.Clean(base) {
			out = append(out, m)
		}
	}
	return out
}

// modelNames gives each path a short unique name: the file name without .gguf (prefixed by its
// folder when the file is the generic "model.gguf" that train and distill write), with "#2",
// "#3" ... appended to repeats.
func modelNames(paths []string) []string {
	names := make([]string, len(paths))
	seen := map[string]int{}
	for i, p := range paths {
		n := strings.TrimSuffix(filepath.Base(p), ".gguf")
		if n == "model" {
			if dir := filepath.Base(filepath.Dir(filepath.Clean(p))); dir != "." && dir != string(filepath.Separator) {
				n = dir + "/" + n
			}
		}
		seen[n]++
		if seen[n] > 1 {
			n = fmt.Sprintf("%s#%d", n, seen[n])
		}
		names[i] = n
	}
	return names
}
