package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The tests run the test binary itself as a fake mcompress (fakeMain): each "command" writes its
// output file with its arguments and the bytes of its inputs, so that outputs change exactly
// when a step's command or inputs do, and logs its step to $FAKE_LOG.
func TestMain(m *testing.M) {
	if os.Getenv("PIPELINE_FAKE_MCOMPRESS") == "1" {
		os.Exit(fakeMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeMain(args []string) int {
	var out, outFlag string
	var content strings.Builder
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "-o" || a == "--report") && i+1 < len(args) {
			out, outFlag = args[i+1], a
			i++
			continue
		}
		content.WriteString(a + "\n")
		if b, err := os.ReadFile(a); err == nil {
			content.Write(b)
		} else if ents, err := os.ReadDir(a); err == nil {
			for _, e := range ents {
				b, _ := os.ReadFile(filepath.Join(a, e.Name()))
				content.Write(b)
			}
		}
	}
	name := filepath.Base(out)
	if strings.HasSuffix(out, ".gguf") {
		name = filepath.Base(filepath.Dir(out))
	}
	if f, err := os.OpenFile(os.Getenv("FAKE_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintln(f, name)
		f.Close()
	}
	if os.Getenv("FAKE_FAIL") == name {
		fmt.Fprintln(os.Stderr, "fake: failing as asked")
		return 2
	}
	switch {
	case outFlag == "--report":
		out = filepath.Join(out, "report.json")
	case args[0] == "distill":
		out = filepath.Join(out, "model.gguf")
	}
	if err := os.WriteFile(out, []byte(content.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if args[0] == "eval" && os.Getenv("FAKE_GATE") == "1" {
		fmt.Fprintln(os.Stderr, "fake: gate failed")
		return 3
	}
	return 0
}

const runRecipe = `base: model
data:
  train: train.txt
  valid: valid.txt
steps:
  - {name: f32, kind: convert, from: base, outtype: f32}
  - {name: imat, kind: imatrix, from: f32, data: train}
  - {name: q4, kind: quantize, from: f32, type: Q4_K_M, imatrix: imat}
  - {name: q8, kind: quantize, from: f32, type: Q8_0}
  - {name: student, kind: distill, from: f32, data: train, layers: 1}
  - {name: student-q4, kind: quantize, from: student, type: Q4_0}
  - {name: pruned, kind: prune, optional: true, from: f32, sparsity: 0.5}
  - {name: pruned-q4, kind: quantize, from: pruned, type: Q4_0}
eval:
  base: f32
  data: valid
`

// fixture is a recipe folder with its inputs, and the run folder and fake log beside it.
type fixture struct {
	t                        *testing.T
	dir, runDir, log, recipe string
	has                      func(string) bool
	force, dryRun, noPrune   bool
}

func newFixture(t *testing.T, recipe string) *fixture {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "model"), 0o755))
	for name, text := range map[string]string{"model/config.json": "{}", "model/w.bin": "weights", "train.txt": "train", "valid.txt": "valid"} {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	f := &fixture{t: t, dir: dir, runDir: filepath.Join(dir, "run"), log: filepath.Join(dir, "fake.log"), recipe: filepath.Join(dir, "r.yaml")}
	must(t, os.WriteFile(f.recipe, []byte(recipe), 0o644))
	t.Setenv("PIPELINE_FAKE_MCOMPRESS", "1")
	t.Setenv("FAKE_LOG", f.log)
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run runs the recipe and returns the steps the fake ran, in order.
func (f *fixture) run(tool string) (*Result, []string, error) {
	f.t.Helper()
	os.Remove(f.log)
	r, err := Load(f.recipe)
	if err != nil {
		f.t.Fatal(err)
	}
	bin, err := os.Executable()
	must(f.t, err)
	res, err := Run(context.Background(), r, Options{RunDir: f.runDir, Binary: bin, Tool: tool, Force: f.force, DryRun: f.dryRun,
		Has: func(c string) bool { return c != "prune" || !f.noPrune }})
	b, _ := os.ReadFile(f.log)
	return res, strings.Fields(string(b)), err
}

func (f *fixture) edit(name, text string) {
	must(f.t, os.WriteFile(filepath.Join(f.dir, name), []byte(text), 0o644))
}

// A rerun skips what is unchanged and redoes exactly what a change reaches.
func TestRunSkipsUnchangedAndRedoesChanged(t *testing.T) {
	f := newFixture(t, runRecipe)
	all := []string{"f32", "imat", "q4", "q8", "student", "student-q4", "pruned", "pruned-q4", "report"}
	tests := []struct {
		name   string
		change func()
		tool   string
		want   []string
	}{
		{"first run", func() {}, "v1", all},
		{"unchanged", func() {}, "v1", nil},
		{"a flag of one step", func() { f.edit("r.yaml", strings.Replace(runRecipe, "type: Q8_0", "type: Q8_0, pure: true", 1)) }, "v1", []string{"q8", "report"}},
		{"training data", func() { f.edit("train.txt", "more training text") }, "v1", []string{"imat", "q4", "student", "student-q4", "report"}},
		{"a file of the base folder", func() { f.edit("model/w.bin", "other weights") }, "v1", all},
		{"an output changed", func() { f.edit("run/steps/student/model.gguf", "tampered") }, "v1", []string{"student"}},
		{"an output removed", func() { os.RemoveAll(filepath.Join(f.runDir, "steps", "q8")) }, "v1", []string{"q8"}},
		{"the tool", func() {}, "v2", all},
		{"--force", func() { f.force = true }, "v2", all},
		{"unchanged again", func() { f.force = false }, "v2", nil},
	}
	for _, tc := range tests {
		tc.change()
		res, ran, err := f.run(tc.tool)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(ran, tc.want) {
			t.Fatalf("%s: ran %q, want %q", tc.name, ran, tc.want)
		}
		for _, s := range res.Steps {
			if want := slices.Contains(tc.want, strings.TrimPrefix(s.Output, "steps/")) || (s.Kind == "eval" && slices.Contains(tc.want, "report")); want != (s.Action == ActionRun) {
				t.Fatalf("%s: step %s reported %s (%s)", tc.name, s.Name, s.Action, s.Reason)
			}
		}
	}
	// The final outputs are in place, and nothing is left in tmp.
	if _, err := os.Stat(filepath.Join(f.runDir, "steps", "student-q4", "student-q4.gguf")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.runDir, "report", "report.json")); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(f.runDir, "tmp")); len(left) != 0 {
		t.Fatalf("left in tmp: %v", left)
	}
}

// The commands get the right inputs and outputs, the eval every model but its base.
func TestRunCommands(t *testing.T) {
	f := newFixture(t, runRecipe)
	res, _, err := f.run("v1")
	must(t, err)
	want := map[string]string{
		"f32":     "convert ../model --outtype f32 -o tmp/f32/f32.gguf",
		"imat":    "imatrix --model steps/f32/f32.gguf --file ../train.txt -o tmp/imat/imatrix.gguf",
		"q4":      "quantize steps/f32/f32.gguf --imatrix steps/imat/imatrix.gguf --type Q4_K_M -o tmp/q4/q4.gguf",
		"student": "distill --teacher steps/f32/f32.gguf --data ../train.txt --layers 1 -o tmp/student",
		"pruned":  "prune steps/f32/f32.gguf --sparsity 0.5 -o tmp/pruned/pruned.gguf",
		"eval": "eval --base steps/f32/f32.gguf --data ../valid.txt --model steps/q4/q4.gguf --model steps/q8/q8.gguf " +
			"--model steps/student/model.gguf --model steps/student-q4/student-q4.gguf --model steps/pruned/pruned.gguf " +
			"--model steps/pruned-q4/pruned-q4.gguf --report tmp/report",
	}
	for _, s := range res.Steps {
		if w, ok := want[s.Name]; ok && strings.Join(s.Command, " ") != w {
			t.Errorf("%s: command\n%s\nwant\n%s", s.Name, strings.Join(s.Command, " "), w)
		}
	}
	m, err := readManifest(filepath.Join(f.runDir, ManifestFile))
	must(t, err)
	rec := m.Steps["q4"]
	if rec.Status != StatusDone || len(rec.Inputs) != 2 || rec.Inputs["steps/imat/imatrix.gguf"] == "" || rec.Outputs["steps/q4/q4.gguf"] == "" || rec.Tool != "v1" {
		t.Fatalf("manifest entry %+v", rec)
	}
}

// An optional step whose command is missing is skipped with what depends on it, and the eval
// leaves its models out; a required one is a recipe error.
func TestRunUnavailable(t *testing.T) {
	f := newFixture(t, runRecipe)
	f.noPrune = true
	res, ran, err := f.run("v1")
	must(t, err)
	if slices.Contains(ran, "pruned") || slices.Contains(ran, "pruned-q4") {
		t.Fatalf("ran %q", ran)
	}
	for _, s := range res.Steps {
		if (s.Name == "pruned" || s.Name == "pruned-q4") != (s.Action == ActionUnavailable) {
			t.Fatalf("step %s: %s", s.Name, s.Action)
		}
		if s.Kind == "eval" && strings.Contains(strings.Join(s.Command, " "), "pruned") {
			t.Fatalf("eval of an unavailable model: %q", s.Command)
		}
	}
	f.edit("r.yaml", strings.Replace(runRecipe, "optional: true, ", "", 1))
	_, _, err = f.run("v1")
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), `r.yaml:12: field "kind": step "pruned": this mcompress has no "prune" command`) {
		t.Fatalf("got %v", err)
	}
}

// A failed step leaves no outputs and is redone by the rerun, which skips what had finished.
func TestRunFailureResumes(t *testing.T) {
	f := newFixture(t, runRecipe)
	t.Setenv("FAKE_FAIL", "student")
	_, ran, err := f.run("v1")
	var se *StepError
	if !errors.As(err, &se) || se.Step != "student" || se.Code != 2 {
		t.Fatalf("got %v", err)
	}
	if want := []string{"f32", "imat", "q4", "q8", "student"}; !slices.Equal(ran, want) {
		t.Fatalf("ran %q, want %q", ran, want)
	}
	if _, err := os.Stat(filepath.Join(f.runDir, "steps", "student")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed step's output folder exists: %v", err)
	}
	m, err := readManifest(filepath.Join(f.runDir, ManifestFile))
	must(t, err)
	if m.Steps["student"].Status != StatusFailed || m.Steps["student"].Error == "" {
		t.Fatalf("manifest: %+v", m.Steps["student"])
	}
	t.Setenv("FAKE_FAIL", "")
	_, ran, err = f.run("v1")
	must(t, err)
	if want := []string{"student", "student-q4", "pruned", "pruned-q4", "report"}; !slices.Equal(ran, want) {
		t.Fatalf("rerun ran %q, want %q", ran, want)
	}
}

// A failed gate keeps the report, fails the run with ErrGate, and fails it again when the
// rerun skips the unchanged evaluation.
func TestRunGateFailure(t *testing.T) {
	f := newFixture(t, runRecipe)
	t.Setenv("FAKE_GATE", "1")
	for i, want := range [][]string{{"f32", "imat", "q4", "q8", "student", "student-q4", "pruned", "pruned-q4", "report"}, nil} {
		res, ran, err := f.run("v1")
		if !errors.Is(err, ErrGate) {
			t.Fatalf("run %d: got %v", i, err)
		}
		if !slices.Equal(ran, want) {
			t.Fatalf("run %d: ran %q, want %q", i, ran, want)
		}
		if last := res.Steps[len(res.Steps)-1]; !last.GateFailed {
			t.Fatalf("run %d: eval %+v", i, last)
		}
		if _, err := os.Stat(filepath.Join(f.runDir, "report", "report.json")); err != nil {
			t.Fatal(err)
		}
	}
}

// A dry run plans without running or writing anything.
func TestRunDryRun(t *testing.T) {
	f := newFixture(t, runRecipe)
	f.dryRun = true
	res, ran, err := f.run("v1")
	must(t, err)
	if len(ran) != 0 {
		t.Fatalf("ran %q", ran)
	}
	if _, err := os.Stat(f.runDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dry run made the run folder: %v", err)
	}
	if s := res.Steps[1]; s.Action != ActionRun || s.Reason != `after "f32", which runs first` {
		t.Fatalf("%+v", s)
	}
	f.dryRun = false
	_, _, err = f.run("v1")
	must(t, err)
	f.dryRun = true
	f.edit("valid.txt", "other")
	res, _, err = f.run("v1")
	must(t, err)
	for _, s := range res.Steps {
		if (s.Kind == "eval") != (s.Action == ActionRun) {
			t.Fatalf("step %s: %s (%s)", s.Name, s.Action, s.Reason)
		}
	}
	if r := res.Steps[len(res.Steps)-1].Reason; r != "input ../valid.txt changed" {
		t.Fatalf("reason %q", r)
	}
}

func TestShellJoin(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"quantize", "a.gguf", "--type", "Q4_0"}, "quantize a.gguf --type Q4_0"},
		{[]string{"distill", "--name", "my student"}, "distill --name 'my student'"},
		{[]string{"x", "it's", ""}, `x 'it'\''s' ''`},
	}
	for _, tc := range tests {
		if got := shellJoin(tc.in); got != tc.want {
			t.Errorf("shellJoin(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
