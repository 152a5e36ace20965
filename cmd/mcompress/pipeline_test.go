package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcompress/mcompress/internal/pipeline"
)

// asMainEnv makes the test binary behave as mcompress (TestMain), so that the pipeline's steps,
// which run os.Executable(), and the pipelines the tests start as processes run this package's
// code without a separate build.
const asMainEnv = "MCOMPRESS_TEST_AS_MAIN"

// pipelineRecipe writes a small recipe over the bundled demo teacher into a temporary folder:
// convert, imatrix, two quantizations (one with the imatrix) and an eval on a few chunks.
func pipelineRecipe(t *testing.T, evalExtra string) string {
	t.Helper()
	demo, err := filepath.Abs(filepath.Join("..", "..", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(demo, "teacher", "config.json")); err != nil {
		t.Skipf("demo teacher absent: %v", err)
	}
	src := fmt.Sprintf(`base: %s/teacher
data:
  valid: %s/data/valid.txt
steps:
  - {name: f32, kind: convert, from: base, outtype: f32}
  - {name: imatrix, kind: imatrix, from: f32, data: valid, ctx-size: 64, chunks: 8}
  - {name: q8, kind: quantize, from: f32, type: Q8_0}
  - {name: q4-imat, kind: quantize, from: f32, type: Q4_K_M, imatrix: imatrix}
  - {name: q2, kind: quantize, from: f32, type: Q2_K}
eval:
  base: f32
  data: valid
  ctx-size: 64
  chunks: 4
  no-latency: true
%s`, demo, demo, evalExtra)
	p := filepath.Join(t.TempDir(), "recipe.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pipelineProcess returns the command that runs `mcompress pipeline ARGS` as a process.
func pipelineProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"pipeline"}, args...)...)
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	return cmd
}

func readPipelineManifest(t *testing.T, run string) *pipeline.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, pipeline.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m pipeline.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// Killing the pipeline (SIGKILL, the whole process group) in the middle and rerunning finishes
// the run without redoing the finished steps, with the same outputs, byte for byte, as a run
// that was never interrupted.
func TestPipelineKillAndResume(t *testing.T) {
	recipe := pipelineRecipe(t, "")
	dir := t.TempDir()
	whole, killed := filepath.Join(dir, "whole"), filepath.Join(dir, "killed")

	if out, err := pipelineProcess(t, recipe, "-o", whole, "-q").CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}

	// Start again elsewhere and kill it once two steps have finished.
	cmd := pipelineProcess(t, recipe, "-o", killed, "-q")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if b, err := os.ReadFile(filepath.Join(killed, pipeline.ManifestFile)); err == nil {
			var m pipeline.Manifest
			if json.Unmarshal(b, &m) == nil && len(m.Steps) >= 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("no two steps finished in time: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before := readPipelineManifest(t, killed)
	if len(before.Steps) >= 6 {
		t.Fatalf("the run finished before the kill (%d steps)", len(before.Steps))
	}

	out, err := pipelineProcess(t, recipe, "-o", killed, "--json", "-q").Output()
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	var res pipeline.Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	after := readPipelineManifest(t, killed)
	for _, s := range res.Steps {
		rec := before.Steps[s.Name]
		finished := rec != nil && rec.Status == pipeline.StatusDone
		if finished != (s.Action == pipeline.ActionSkip) {
			t.Errorf("step %s: %s (%s); finished before the kill: %v", s.Name, s.Action, s.Reason, finished)
		}
		if finished && after.Steps[s.Name].Started != rec.Started {
			t.Errorf("step %s was redone", s.Name)
		}
	}
	ref := readPipelineManifest(t, whole)
	for name, rec := range ref.Steps {
		if name == pipeline.EvalStep {
			continue // the report holds timings
		}
		got := after.Steps[name]
		if got == nil || got.Status != pipeline.StatusDone || fmt.Sprint(got.Outputs) != fmt.Sprint(rec.Outputs) {
			t.Errorf("step %s: outputs differ from the uninterrupted run's:\n%v\n%v", name, got, rec.Outputs)
		}
		for path, h := range rec.Outputs { // and the files are what the manifest says
			if got, err := hashFileForTest(filepath.Join(killed, path)); err != nil || got != h {
				t.Errorf("%s: %v", path, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(killed, "report", "report.json")); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(killed, "tmp")); len(left) != 0 {
		t.Fatalf("left in tmp: %v", left)
	}
}

// Ctrl-C (SIGINT to the pipeline) stops the running step, leaves nothing half-made and exits
// 130; the rerun finishes the run.
func TestPipelineInterrupt(t *testing.T) {
	recipe := pipelineRecipe(t, "")
	run := filepath.Join(t.TempDir(), "run")
	cmd := pipelineProcess(t, recipe, "-o", run, "-q")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for { // wait until the first step has finished and another is under way
		ents, _ := os.ReadDir(filepath.Join(run, "tmp"))
		if _, err := os.Stat(filepath.Join(run, pipeline.ManifestFile)); err == nil && len(ents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no step started in time: %s", stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupt && code != exitOK {
		t.Fatalf("exit %d (%v), want %d: %s", code, err, exitInterrupt, stderr.String())
	} else if code == exitOK {
		t.Log("the run finished before the interrupt reached it")
	}
	if left, _ := os.ReadDir(filepath.Join(run, "tmp")); len(left) != 0 {
		t.Fatalf("left in tmp after Ctrl-C: %v", left)
	}
	if out, err := pipelineProcess(t, recipe, "-o", run, "-q").CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	m := readPipelineManifest(t, run)
	for name, rec := range m.Steps {
		if rec.Status != pipeline.StatusDone {
			t.Errorf("step %s: %s", name, rec.Status)
		}
	}
}

// Exit codes: a bad recipe 2 with its line and field; a failed gate 3 with the report written,
// again when a rerun skips the evaluation; a dry run of a finished run plans only skips.
func TestPipelineExitCodes(t *testing.T) {
	t.Setenv(asMainEnv, "1") // the steps run this test binary as mcompress
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("base: m\nsteps:\n  - {name: a, kind: quantize, from: base, bitz: 4}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "pipeline", bad, "-o", filepath.Join(dir, "run"))
	if code != exitUsage || !strings.Contains(stderr, `bad.yaml:3: field "bitz": unknown field of a quantize step`) {
		t.Fatalf("bad recipe: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "pipeline", bad)
	if code != exitUsage || !strings.Contains(stderr, "bad.yaml") {
		t.Fatalf("no run folder: exit %d, %s", code, stderr)
	}

	recipe := pipelineRecipe(t, "  max-kld: 0.000001\n")
	run := filepath.Join(dir, "gated")
	for i := 0; i < 2; i++ {
		code, out, stderr := runCLI(t, "pipeline", recipe, "-o", run, "-q")
		if code != exitGate {
			t.Fatalf("run %d: exit %d, want %d: %s", i, code, exitGate, stderr)
		}
		if !strings.Contains(stderr, "quality gates failed") || !strings.Contains(out, "gates failed") {
			t.Fatalf("run %d: %s\n%s", i, out, stderr)
		}
		if _, err := os.Stat(filepath.Join(run, "report", "report.json")); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr := runCLI(t, "pipeline", recipe, "-o", run, "--dry-run", "--json")
	if code != exitGate {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	var res pipeline.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, s := range res.Steps {
		if s.Action != pipeline.ActionSkip {
			t.Fatalf("dry run of a finished run: %s %s (%s)", s.Name, s.Action, s.Reason)
		}
	}
}

// hashFileForTest is the hex SHA-256 of a file, as the manifest records it.
func hashFileForTest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", sha256.Sum256(b)), nil
}
