package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options control Run.
type Options struct {
	RunDir string // the run folder (created when missing)
	Binary string // the mcompress executable each step runs
	Tool   string // the version of Binary, recorded per step; a change reruns the step
	// Has reports whether Binary has a command (nil: every command). A step whose command is
	// missing is skipped when the recipe marks it optional, and refused otherwise.
	Has    func(command string) bool
	DryRun bool // print the plan and run nothing
	Force  bool // rerun every step, whatever the manifest says
	Quiet  bool // pass --quiet to the steps
	// Log receives the plan and a line per step; Stdout and Stderr the steps' own output.
	Log, Stdout, Stderr io.Writer
}

// Actions of a step in a Result.
const (
	ActionRun         = "run"         // ran (or, in a dry run, would run)
	ActionSkip        = "skip"        // unchanged since the recorded run
	ActionUnavailable = "unavailable" // optional, and the binary lacks its command (or an input's)
)

// Result is what Run did (or, in a dry run, would do), step by step, in order.
type Result struct {
	RunDir string       `json:"run"`
	DryRun bool         `json:"dry_run,omitempty"`
	Steps  []StepResult `json:"steps"`
	Report string       `json:"report,omitempty"` // the eval report folder, when the recipe has eval
}

// StepResult is one step's line of the plan or the run.
type StepResult struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Action     string   `json:"action"`
	Reason     string   `json:"reason"`
	Command    []string `json:"command,omitempty"`
	Output     string   `json:"output,omitempty"` // the step's main output, relative to the run folder
	Seconds    float64  `json:"seconds,omitempty"`
	GateFailed bool     `json:"gate_failed,omitempty"`
}

// Run executes the recipe's steps in order in o.RunDir, skipping those the manifest shows
// unchanged (see the package documentation). It returns the result so far with the first
// error: a *StepError for a failed step, ctx's error when interrupted, an error wrapping
// ErrGate when the evaluation's gates failed, one wrapping ErrBadInput for a bad recipe or a
// missing input.
func Run(ctx context.Context, r *Recipe, o Options) (*Result, error) {
	if o.RunDir == "" {
		return nil, bad(errors.New("no run folder: give one with -o or run: in the recipe"))
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	run := &runner{r: r, o: o, res: &Result{RunDir: o.RunDir, DryRun: o.DryRun}}
	if err := run.prepare(); err != nil {
		return nil, err
	}
	err := run.all(ctx)
	return run.res, err
}

// runner is one execution of a recipe.
type runner struct {
	r           *Recipe
	o           Options
	res         *Result
	m           *Manifest
	unavailable map[string]string // step -> why
	runs        map[string]bool   // steps that ran (or would run, in a dry run)
	gateFailed  bool
}

// prepare reads the manifest and works out which steps cannot run with this binary.
func (run *runner) prepare() error {
	var err error
	if run.m, err = readManifest(filepath.Join(run.o.RunDir, ManifestFile)); err != nil {
		return err
	}
	run.m.Recipe = run.r.File
	run.unavailable = map[string]string{}
	run.runs = map[string]bool{}
	for _, s := range run.r.Steps {
		cmd := kinds[s.Kind].command
		if run.o.Has != nil && !run.o.Has(cmd) {
			if !s.Optional {
				return recipeError(run.r.File, s.Line, "kind", "step %q: this mcompress has no %q command (mark the step optional: true to skip it)", s.Name, cmd)
			}
			run.unavailable[s.Name] = fmt.Sprintf("this mcompress has no %q command", cmd)
			continue
		}
		for _, x := range s.refs() {
			if _, ok := run.unavailable[x.name]; ok && s.Kind != "eval" {
				run.unavailable[s.Name] = fmt.Sprintf("its input %q is unavailable", x.name)
				break
			}
		}
	}
	if ev := run.r.byName[EvalStep]; ev != nil {
		if base := ev.evalBase(); run.unavailable[base] != "" {
			run.unavailable[EvalStep] = fmt.Sprintf("its base %q is unavailable", base)
		}
	}
	return nil
}

// all runs (or plans) every step in order.
func (run *runner) all(ctx context.Context) error {
	if !run.o.DryRun {
		for _, d := range []string{run.o.RunDir, filepath.Join(run.o.RunDir, "steps"), filepath.Join(run.o.RunDir, "tmp")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return bad(fmt.Errorf("run folder: %w", err))
			}
		}
	}
	for _, s := range run.r.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		sr := StepResult{Name: s.Name, Kind: s.Kind, Output: s.output()}
		if why, ok := run.unavailable[s.Name]; ok {
			sr.Action, sr.Reason = ActionUnavailable, why
			run.res.Steps = append(run.res.Steps, sr)
			fmt.Fprintf(run.o.Log, "pipeline: %-11s %s (%s): %s\n", sr.Action, s.Name, s.Kind, why)
			continue
		}
		argv, inputs, err := run.command(s)
		if err != nil {
			return err
		}
		sr.Command = argv
		action, reason, hashes, err := run.decide(s, argv, inputs)
		if err != nil {
			return err
		}
		sr.Action, sr.Reason = action, reason
		rec := run.m.Steps[s.Name]
		if action == ActionSkip && rec.Status == StatusGateFailed {
			sr.GateFailed, run.gateFailed = true, true
		}
		fmt.Fprintf(run.o.Log, "pipeline: %-11s %s (%s): %s\n", action, s.Name, s.Kind, reason)
		if action == ActionRun {
			run.runs[s.Name] = true
			if !run.o.DryRun {
				start := time.Now()
				gate, err := run.exec(ctx, s, argv, hashes)
				sr.Seconds = time.Since(start).Seconds()
				if err != nil {
					run.res.Steps = append(run.res.Steps, sr)
					return err
				}
				if gate {
					sr.GateFailed, run.gateFailed = true, true
				}
			}
		}
		run.res.Steps = append(run.res.Steps, sr)
		if s.Kind == "eval" {
			run.res.Report = filepath.Join(run.o.RunDir, s.output())
		}
	}
	if run.gateFailed {
		return fmt.Errorf("the evaluation's quality gates failed (see %s): %w", run.res.Report, ErrGate)
	}
	return nil
}

// decide says whether s runs, and why; hashes are its inputs' content hashes (nil when an input
// is the output of a step that runs first in a dry run).
func (run *runner) decide(s *Step, argv []string, inputs []string) (action, reason string, hashes map[string]string, err error) {
	if run.o.DryRun {
		for _, in := range inputs {
			if rest, ok := strings.CutPrefix(in, "steps/"); ok {
				if d, _, _ := strings.Cut(rest, "/"); run.runs[d] {
					return ActionRun, fmt.Sprintf("after %q, which runs first", d), nil, nil
				}
			}
		}
	}
	hashes = map[string]string{}
	for _, in := range inputs {
		h, err := hashTree(run.abs(in))
		if err != nil {
			return "", "", nil, bad(fmt.Errorf("step %q: input %s: %w", s.Name, in, err))
		}
		hashes[in] = h
	}
	rec := run.m.Steps[s.Name]
	switch {
	case run.o.Force:
		return ActionRun, "--force", hashes, nil
	case rec == nil:
		return ActionRun, "not run before", hashes, nil
	case rec.Status != StatusDone && rec.Status != StatusGateFailed:
		return ActionRun, "did not finish before", hashes, nil
	case !slices.Equal(rec.Command, argv):
		return ActionRun, "its command changed", hashes, nil
	case rec.Tool != run.o.Tool:
		return ActionRun, fmt.Sprintf("mcompress changed (%s, was %s)", run.o.Tool, rec.Tool), hashes, nil
	}
	for _, in := range inputs {
		if rec.Inputs[in] != hashes[in] {
			return ActionRun, fmt.Sprintf("input %s changed", in), hashes, nil
		}
	}
	if len(rec.Inputs) != len(hashes) {
		return ActionRun, "its inputs changed", hashes, nil
	}
	out, err := hashFiles(run.abs(s.output()))
	if err != nil || !maps.Equal(prefixed(s.output(), out), rec.Outputs) {
		return ActionRun, "its outputs are missing or changed", hashes, nil
	}
	when := rec.Ended
	if t, err := time.Parse(time.RFC3339Nano, rec.Ended); err == nil {
		when = t.Local().Format("2006-01-02 15:04:05")
	}
	if rec.Status == StatusGateFailed {
		return ActionSkip, "unchanged since " + when + " (its gates failed)", hashes, nil
	}
	return ActionSkip, "unchanged since " + when, hashes, nil
}

// exec runs s's command into RUN/tmp, moves the outputs into place and records the step. It
// reports whether an eval step's gates failed (the step still counts as done).
func (run *runner) exec(ctx context.Context, s *Step, argv []string, hashes map[string]string) (gateFailed bool, err error) {
	tmp := run.abs(s.tmpDir())
	if err := os.RemoveAll(tmp); err != nil {
		return false, fmt.Errorf("step %q: clearing %s: %w", s.Name, tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return false, fmt.Errorf("step %q: %w", s.Name, err)
	}
	rec := &StepRecord{Kind: s.Kind, Command: argv, Inputs: hashes, Tool: run.o.Tool,
		Started: time.Now().UTC().Format(time.RFC3339Nano), Status: StatusFailed}
	full := argv
	if run.o.Quiet {
		full = append(append([]string{}, argv[:1]...), append([]string{"--quiet"}, argv[1:]...)...)
	}
	cmd := exec.CommandContext(ctx, run.o.Binary, full...)
	cmd.Dir = run.o.RunDir
	cmd.Stdout, cmd.Stderr = run.o.Stdout, run.o.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // let it remove its temporary files
	cmd.WaitDelay = time.Minute
	setDeathSignal(cmd)
	fmt.Fprintf(run.o.Log, "pipeline: $ mcompress %s\n", shellJoin(argv))
	runErr := cmd.Run()
	if runErr != nil && !(s.Kind == "eval" && exitCode(runErr) == 3) {
		defer os.RemoveAll(tmp) // nothing half-made stays behind (a rerun would clear it anyway)
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if runErr != nil {
		code := exitCode(runErr)
		if !(s.Kind == "eval" && code == 3) {
			rec.Ended, rec.Error = time.Now().UTC().Format(time.RFC3339Nano), runErr.Error()
			run.m.Steps[s.Name] = rec
			if err := run.m.write(run.abs(ManifestFile)); err != nil {
				return false, err
			}
			return false, &StepError{Step: s.Name, Code: code, Err: fmt.Errorf("mcompress %s: %w", argv[0], runErr)}
		}
		gateFailed = true
	}
	final := run.abs(s.output())
	if err := os.RemoveAll(final); err != nil {
		return false, fmt.Errorf("step %q: replacing %s: %w", s.Name, final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return false, fmt.Errorf("step %q: %w", s.Name, err)
	}
	out, err := hashFiles(final)
	if err != nil {
		return false, fmt.Errorf("step %q: hashing its outputs: %w", s.Name, err)
	}
	rec.Outputs = prefixed(s.output(), out)
	rec.Ended = time.Now().UTC().Format(time.RFC3339Nano)
	rec.Status = StatusDone
	if gateFailed {
		rec.Status = StatusGateFailed
	}
	run.m.Steps[s.Name] = rec
	return gateFailed, run.m.write(run.abs(ManifestFile))
}

// abs resolves a path relative to the run folder.
func (run *runner) abs(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(run.o.RunDir, rel)
}

// rel expresses an input path relative to the run folder when it can (so that a run folder
// moved together with its inputs keeps its manifest valid), else absolute.
func (run *runner) rel(path string) string {
	runAbs, err1 := filepath.Abs(run.o.RunDir)
	pAbs, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return path
	}
	r, err := filepath.Rel(runAbs, pAbs)
	if err != nil {
		return pAbs
	}
	return filepath.ToSlash(r)
}

// prefixed returns m with dir/ put before every key.
func prefixed(dir string, m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[dir+"/"+k] = v
	}
	return out
}

// output is the folder, relative to the run folder, that holds s's outputs.
func (s *Step) output() string {
	if s.Kind == "eval" {
		return "report"
	}
	return "steps/" + s.Name
}

// tmpDir is where s's command writes before its outputs are moved into place. Its base name is
// the step's, so that commands naming their output after its folder (distill) name it the same.
func (s *Step) tmpDir() string {
	if s.Kind == "eval" {
		return "tmp/report"
	}
	return "tmp/" + s.Name
}

// modelFile is the model a model-making step leaves, relative to its output folder.
func (s *Step) modelFile() string {
	if kinds[s.Kind].out == outDistill {
		return "model.gguf"
	}
	return s.Name + ".gguf"
}

// evalBase is the base model of the eval step: its base field, or the recipe's base.
func (s *Step) evalBase() string {
	if v := s.values["base"]; v != nil {
		return v.items[0]
	}
	return BaseRef
}

// command builds the arguments of s's mcompress command (paths relative to the run folder, the
// output in s's temporary folder) and lists the input paths it reads, as they appear in it.
func (run *runner) command(s *Step) (argv, inputs []string, err error) {
	spec := kinds[s.Kind]
	argv = []string{spec.command}
	seenIn := map[string]bool{}
	input := func(p string) string {
		if !seenIn[p] {
			seenIn[p] = true
			inputs = append(inputs, p)
		}
		return p
	}
	model := func(name string) string {
		if name == BaseRef {
			return input(run.rel(run.r.Base))
		}
		d := run.r.byName[name]
		return input(d.output() + "/" + d.modelFile())
	}
	if s.Kind != "eval" {
		if spec.fromFlag != "" {
			argv = append(argv, spec.fromFlag)
		}
		argv = append(argv, model(s.From))
	}
	for _, name := range s.fieldNames() {
		v, f := s.values[name], spec.fields[name]
		switch f.typ {
		case tBool:
			if v.items[0] == "true" {
				argv = append(argv, f.flag)
			} else {
				argv = append(argv, f.flag+"=false")
			}
		case tModel:
			argv = append(argv, f.flag, model(v.items[0]))
		case tModels:
			for _, it := range v.items {
				if run.unavailable[it] == "" {
					argv = append(argv, f.flag, model(it))
				}
			}
		case tData:
			argv = append(argv, f.flag, input(run.rel(run.r.Data[v.items[0]])))
		case tImatrix:
			d := run.r.byName[v.items[0]]
			argv = append(argv, f.flag, input(d.output()+"/imatrix.gguf"))
		case tPath, tPaths:
			for _, it := range v.items {
				argv = append(argv, f.flag, input(run.rel(it)))
			}
		default:
			for _, it := range v.items {
				argv = append(argv, f.flag, it)
			}
		}
	}
	if s.Kind == "eval" {
		base := s.evalBase()
		if s.values["base"] == nil {
			if !strings.HasSuffix(strings.ToLower(run.r.Base), ".gguf") {
				return nil, nil, recipeError(run.r.File, s.Line, "base", "eval needs a GGUF base: the recipe's base is not one, so name the step that converts it")
			}
			argv = append(argv, "--base", model(BaseRef))
		}
		if s.values["models"] == nil {
			for _, d := range run.r.Steps {
				if makesModel(d.Kind) && d.Name != base && run.unavailable[d.Name] == "" {
					argv = append(argv, "--model", model(d.Name))
				}
			}
		}
	}
	switch spec.out {
	case outModel:
		argv = append(argv, "-o", s.tmpDir()+"/"+s.modelFile())
	case outImatrix:
		argv = append(argv, "-o", s.tmpDir()+"/imatrix.gguf")
	case outDistill:
		argv = append(argv, "-o", s.tmpDir())
	case outReport:
		argv = append(argv, "--report", s.tmpDir())
	}
	argv = append(argv, s.Args...)
	return argv, inputs, nil
}

// shellJoin writes argv as a shell would need it typed: arguments with spaces or quotes quoted.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// exitCode is the exit code of a command that failed with err, -1 when it did not exit.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
