package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/internal/pipeline"
)

func init() { register(newPipelineCmd) }

// newPipelineCmd is `mcompress pipeline RECIPE`: run a recipe's steps in a resumable run folder.
func newPipelineCmd(g *globalOptions) *cobra.Command {
	var (
		out    string
		dryRun bool
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "pipeline RECIPE.yaml [-o RUN_DIR]",
		Short: "Run a recipe: convert, prune, distill, quantize and imatrix steps, then eval with gates, resumably",
		Long: `pipeline runs a recipe (YAML, or JSON with the same fields): a base model, named datasets,
a graph of steps (convert, prune, distill, quantize, imatrix), each naming its input with from:,
and an eval of the variants against the base with quality gates. Each step runs as its own
mcompress command and writes into the run folder (-o, or run: in the recipe): RUN/steps/NAME/,
the report in RUN/report/, and RUN/manifest.json with each step's command, the content hashes
of its inputs and outputs, the mcompress version and the times.

Rerunning skips the steps whose command, inputs and mcompress version are unchanged and whose
outputs are still the recorded bytes, so a run stopped by a crash, a kill or Ctrl-C resumes
where it stopped. --dry-run prints which steps would run or be skipped, and why.

Exit codes: 0 done; 2 a bad recipe (the message names the line and the field) or a step's bad
input; 3 the eval's gates failed (the report is written); 130 interrupted; 1 anything else.
See docs/PIPELINE.md.`,
		Example: `  mcompress pipeline demo/recipe.yaml -o demo-out
  mcompress pipeline recipe.yaml --dry-run
  mcompress pipeline recipe.yaml --json -q`,
		Args: wantArgs(1, 1, "the recipe"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := pipeline.Load(args[0])
			if err != nil {
				return badInput(err)
			}
			runDir := out
			if runDir == "" {
				runDir = r.Run
			}
			if runDir == "" {
				return badInput(fmt.Errorf("%s names no run folder: give one with -o (or run: in the recipe)", args[0]))
			}
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the mcompress binary: %w", err)
			}
			tool, err := toolVersion(bin)
			if err != nil {
				return err
			}
			root := cmd.Root()
			o := pipeline.Options{
				RunDir: runDir, Binary: bin, Tool: tool, DryRun: dryRun, Force: force, Quiet: g.quiet,
				Has: func(name string) bool {
					c, _, err := root.Find([]string{name})
					return err == nil && c != root && c.Name() == name
				},
				Log: os.Stderr, Stdout: os.Stdout, Stderr: os.Stderr,
			}
			if g.quiet || dryRun { // a dry run's plan is the table printed at the end
				o.Log = io.Discard
			}
			if g.json {
				o.Stdout = os.Stderr // stdout carries only the JSON result
			}
			res, err := pipeline.Run(cmd.Context(), r, o)
			if res != nil {
				if g.json {
					if perr := printJSON(res); perr != nil && err == nil {
						err = perr
					}
				} else {
					printPipeline(res)
				}
			}
			return pipelineError(err)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "run folder (default: run: in the recipe)")
	f.BoolVar(&dryRun, "dry-run", false, "print which steps would run or be skipped, and why; run nothing")
	f.BoolVar(&force, "force", false, "rerun every step, whatever the manifest records")
	return cmd
}

// toolVersion is the version a manifest records: a step is redone when it changes. It is the
// module version and commit from the build information; a build from uncommitted or unstamped
// sources ("(devel)" without a clean commit) adds the SHA-256 of the binary bin, so that any
// rebuild with other code counts as another version.
func toolVersion(bin string) (string, error) {
	v := buildVersion()
	s := v.Version
	if v.Revision != "" {
		s += " " + v.Revision
		if v.Modified {
			s += "+modified"
		}
	}
	if v.Revision == "" || v.Modified || v.Version == "(devel)" {
		f, err := os.Open(bin)
		if err != nil {
			return "", fmt.Errorf("reading the mcompress binary: %w", err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("reading the mcompress binary: %w", err)
		}
		s += fmt.Sprintf(" binary sha256:%x", h.Sum(nil)[:8])
	}
	return s, nil
}

// pipelineError classifies a pipeline's error for exitCode: a bad recipe is bad input, a failed
// gate a gate failure, and a failed step keeps its command's exit code class.
func pipelineError(err error) error {
	if err == nil {
		return nil
	}
	var se *pipeline.StepError
	switch {
	case errors.Is(err, pipeline.ErrGate):
		return gateError{msg: err.Error()}
	case errors.Is(err, pipeline.ErrBadInput):
		return badInput(err)
	case errors.As(err, &se):
		switch se.Code {
		case exitUsage:
			return badInput(err)
		case exitGate:
			return gateError{msg: err.Error()}
		}
	}
	return err
}

// printPipeline prints the steps' outcome as a table.
func printPipeline(res *pipeline.Result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	verb := map[string]string{pipeline.ActionRun: "ran", pipeline.ActionSkip: "skipped", pipeline.ActionUnavailable: "unavailable"}
	if res.DryRun {
		verb[pipeline.ActionRun], verb[pipeline.ActionSkip] = "would run", "would skip"
	}
	fmt.Fprintln(w, "step\tkind\taction\treason\toutput")
	for _, s := range res.Steps {
		reason := s.Reason
		if s.GateFailed {
			reason += "; gates failed"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, verb[s.Action], reason, filepath.Join(res.RunDir, s.Output))
	}
	w.Flush()
	if res.Report != "" && !res.DryRun {
		fmt.Printf("report: %s\n", strings.Join([]string{filepath.Join(res.Report, "report.html"), "report.md", "report.json"}, ", "))
	}
}
