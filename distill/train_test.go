package distill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallRun returns options for a fast run on the fixture: a 1-block student of the fixture
// teacher trained on a slice of valid.txt.
func smallRun(t *testing.T, out string, mode string) Options {
	dir := fixtureDir(t)
	return smallRunOptions(dir, headOfFile(t, filepath.Join(dir, "valid.txt"), 20000), out, mode)
}

// smallRunOptions is smallRun for a fixture folder and a data file.
func smallRunOptions(dir, data, out, mode string) Options {
	o := DefaultOptions()
	o.Teacher = filepath.Join(dir, "gguf", "teacher-F32.gguf")
	o.Student.Overrides = ConfigOverrides{Layers: 1, Hidden: 32, Heads: 2, KVHeads: 1, FFN: 64}
	o.Data = DataOptions{Path: data, ValidFraction: 0.1, ValidSequences: 4}
	o.SeqLen, o.Batch, o.Accum, o.Steps, o.Warmup, o.ValidEvery, o.CheckpointEvery = 32, 2, 2, 9, 2, 4, 3
	o.Loss = LossOptions{Alpha: 0.5, Temperature: 2}
	o.Seed, o.Output, o.Save = 11, out, SaveOptions{Name: "small"}
	o.Optim.LR, o.MinLR = 3e-3, 3e-4
	switch mode {
	case "ce":
		o.Teacher, o.Student.Tokenizer, o.Loss = "", filepath.Join(dir, "gguf", "teacher-F32.gguf"), LossOptions{}
	case "reverse":
		o.Loss = LossOptions{Alpha: 1, Temperature: 1, Divergence: ReverseKL}
	}
	return o
}

// sameOutputs fails unless the two run folders hold byte-identical models.
func sameOutputs(t *testing.T, a, b string) {
	t.Helper()
	for _, f := range []string{"model.gguf", "hf/model.safetensors", "hf/config.json"} {
		x, y := readFile(t, filepath.Join(a, f)), readFile(t, filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between %s and %s", f, a, b)
		}
	}
}

// lossLines returns the deterministic fields of the training log's step lines.
func lossLines(t *testing.T, path string) []string {
	var out []string
	for _, line := range strings.Split(string(readFile(t, path)), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		delete(rec, "tokens_per_s")
		delete(rec, "elapsed_s")
		b, _ := json.Marshal(rec)
		out = append(out, string(b))
	}
	return out
}

// TestResumeDeterministic: a run interrupted (context cancelled) after a step, then resumed,
// ends with the same bytes and the same log as an uninterrupted run; for online distillation,
// reverse KL, cross-entropy training and offline distillation from a cache. A different thread
// count gives the same bytes too.
func TestResumeDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("trains several small models")
	}
	for _, mode := range []string{"forward", "reverse", "ce", "offline"} {
		t.Run(mode, func(t *testing.T) {
			tmp := t.TempDir()
			opts := func(out string) Options {
				o := smallRun(t, out, mode)
				if mode == "offline" {
					cache := filepath.Join(tmp, "train.topk")
					if _, err := os.Stat(cache); err != nil {
						if _, err := BuildCache(context.Background(), CacheOptions{Teacher: o.Teacher, Data: o.Data, SeqLen: o.SeqLen, K: 8, Output: cache, Seed: 3}); err != nil {
							t.Fatal(err)
						}
					}
					o.TeacherCache = cache
				}
				return o
			}
			full := filepath.Join(tmp, "full")
			res, err := Run(context.Background(), opts(full))
			if err != nil {
				t.Fatal(err)
			}
			if res.Steps != 9 || res.Valid == nil || !(res.Valid.Perplexity > 1) {
				t.Fatalf("result %+v", res)
			}
			if mode != "ce" && !res.Valid.HasKL {
				t.Errorf("no validation KL")
			}
			// Interrupt after step 5 (between checkpoints), resume.
			part := filepath.Join(tmp, "part")
			ctx, cancel := context.WithCancel(context.Background())
			o := opts(part)
			o.Progress = func(p Progress) {
				if p.Phase == "train" && p.Step == 5 {
					cancel()
				}
			}
			if _, err := Run(ctx, o); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v", err)
			}
			if _, err := os.Stat(filepath.Join(part, "checkpoints", checkpointName(5))); err != nil {
				t.Fatalf("no checkpoint at the interruption: %v", err)
			}
			if _, err := os.Stat(filepath.Join(part, "model.gguf")); err == nil {
				t.Fatal("an interrupted run wrote a model")
			}
			o = opts(part)
			if _, err := Run(context.Background(), o); err == nil || !errors.Is(err, ErrBadInput) {
				t.Fatalf("restart without --resume over checkpoints: %v", err)
			}
			o.Resume = true
			o.Threads = 1
			res2, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res2.ResumedFrom != 5 {
				t.Errorf("resumed from %d, want 5", res2.ResumedFrom)
			}
			sameOutputs(t, full, part)
			a, b := lossLines(t, filepath.Join(full, "train.jsonl")), lossLines(t, filepath.Join(part, "train.jsonl"))
			if strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("training logs differ:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
			}
			// Resuming with other options is refused.
			o = opts(part)
			o.Resume, o.Seed = true, 12
			if _, err := Run(context.Background(), o); !errors.Is(err, ErrBadInput) {
				t.Errorf("resume with another seed: %v", err)
			}
		})
	}
}

// The kill -9 test runs Run in a child process (this test binary, re-executed) that a parent
// kills with SIGKILL after its first checkpoints, then resumes.
const childEnv = "MCOMPRESS_DISTILL_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(childMain(spec))
	}
	os.Exit(m.Run())
}

// childSpec is what the parent passes to the child.
type childSpec struct{ Fixture, Data, Out string }

// killRunOptions are the options of the kill -9 test's runs.
func killRunOptions(c childSpec) Options {
	o := smallRunOptions(c.Fixture, c.Data, c.Out, "forward")
	o.Steps, o.CheckpointEvery, o.ValidEvery = 60, 4, 0
	return o
}

// childMain runs the spec slowly (so that the parent can kill it mid-run).
func childMain(spec string) int {
	var c childSpec
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		os.Stderr.WriteString(err.Error())
		return 3
	}
	o := killRunOptions(c)
	o.Progress = func(p Progress) {
		if p.Phase == "train" {
			time.Sleep(30 * time.Millisecond)
		}
	}
	if _, err := Run(context.Background(), o); err != nil {
		os.Stderr.WriteString(err.Error())
		return 1
	}
	return 0
}

func TestKill9Resume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model three times")
	}
	tmp := t.TempDir()
	dir := fixtureDir(t)
	spec := childSpec{Fixture: dir, Data: headOfFile(t, filepath.Join(dir, "valid.txt"), 20000), Out: filepath.Join(tmp, "full")}
	full := spec.Out
	if _, err := Run(context.Background(), killRunOptions(spec)); err != nil {
		t.Fatal(err)
	}
	killed := filepath.Join(tmp, "killed")
	spec.Out = killed
	specJSON, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(specJSON))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		steps, _ := listCheckpoints(filepath.Join(killed, "checkpoints"))
		if len(steps) > 0 && steps[len(steps)-1] >= 8 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint after 2 minutes: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL (it finished first?): %v", err)
	}
	if _, err := os.Stat(filepath.Join(killed, "model.gguf")); err == nil {
		t.Fatal("the killed run had already written its model")
	}
	steps, _ := listCheckpoints(filepath.Join(killed, "checkpoints"))
	t.Logf("killed after checkpoint of step %d", steps[len(steps)-1])
	o := killRunOptions(spec)
	o.Resume = true
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom == 0 || res.ResumedFrom >= 60 {
		t.Fatalf("resumed from step %d", res.ResumedFrom)
	}
	sameOutputs(t, full, killed)
}
