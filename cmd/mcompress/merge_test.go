package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets a test run the CLI as a separate process: the test binary re-executed with
// MCOMPRESS_TEST_CLI=1 runs the command line in its arguments after "--".
// runProcess runs the CLI in a separate process with the extra environment env.
func runProcess(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(append(os.Environ(), "MCOMPRESS_TEST_CLI=1"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mcompress %s (env %v): %v\n%s", strings.Join(args, " "), env, err, stderr.String())
	}
}

// TestShardedImatrixProcesses runs imatrix as 1, 2 and 3 separate processes, each taking its
// index from a different batch system's environment variables, merges them with `merge
// imatrix` and checks the result is byte-identical to one run's file.
func TestShardedImatrixProcesses(t *testing.T) {
	model := runFixtureModel(t, "Q8_0")
	valid := filepath.Join(filepath.Dir(filepath.Dir(model)), "valid.txt")
	tmp := t.TempDir()
	common := []string{"imatrix", "-q", "-m", model, "-f", valid, "-c", "64", "--chunks", "4"}
	one := filepath.Join(tmp, "one.gguf")
	runProcess(t, nil, append(common, "-o", one)...)
	want, err := os.ReadFile(one)
	if err != nil {
		t.Fatal(err)
	}
	envs := []func(i, n string) []string{
		func(i, n string) []string { return []string{"JOB_COMPLETION_INDEX=" + i, "MCOMPRESS_SHARD_COUNT=" + n} },
		func(i, n string) []string { return []string{"SLURM_ARRAY_TASK_ID=" + i, "SLURM_ARRAY_TASK_COUNT=" + n} },
		func(i, n string) []string {
			return []string{"AWS_BATCH_JOB_ARRAY_INDEX=" + i, "AWS_BATCH_JOB_ARRAY_SIZE=" + n}
		},
		func(i, n string) []string { return []string{"CLOUD_RUN_TASK_INDEX=" + i, "CLOUD_RUN_TASK_COUNT=" + n} },
	}
	for n := 1; n <= 3; n++ {
		for e, env := range envs {
			if n == 1 && e > 0 {
				break
			}
			var parts []string
			for i := range n {
				p := filepath.Join(tmp, strings.Repeat("x", e)+"part-"+string(rune('0'+i))+"-of-"+string(rune('0'+n))+".gguf")
				runProcess(t, env(string(rune('0'+i)), string(rune('0'+n))), append(common, "-o", p)...)
				parts = append(parts, p)
			}
			out := filepath.Join(tmp, "merged.gguf")
			if code, _, stderr := runCLI(t, append([]string{"merge", "imatrix", "-q", "-o", out}, parts...)...); code != 0 {
				t.Fatalf("merge: exit %d: %s", code, stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("N=%d with %s: merged shards differ from one run", n, env("I", "N")[0])
			}
		}
	}
	if code, _, stderr := runCLI(t, "merge", "nonsense", "a"); code != 2 || !strings.Contains(stderr, "unknown kind") {
		t.Errorf("merge nonsense: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "imatrix", "-m", model, "-f", valid, "--shard", "3/3", "-o", filepath.Join(tmp, "x.gguf")); code != 2 || !strings.Contains(stderr, "not in [0, 3)") {
		t.Errorf("--shard 3/3: exit %d, %s", code, stderr)
	}
}

// TestShardedPerplexityProcesses runs perplexity whole and as 3 separate processes (Slurm
// array indices 1..3), merges the shards and checks the PPL and its uncertainty are one run's.
func TestShardedPerplexityProcesses(t *testing.T) {
	model := runFixtureModel(t, "Q8_0")
	valid := filepath.Join(filepath.Dir(filepath.Dir(model)), "valid.txt")
	tmp := t.TempDir()
	common := []string{"perplexity", "-q", "-m", model, "-f", valid, "-c", "64", "--chunks", "5"}
	whole := filepath.Join(tmp, "whole.json")
	runProcess(t, nil, append(common, "-o", whole)...)
	var parts []string
	for i := 1; i <= 3; i++ {
		p := filepath.Join(tmp, "ppl-"+string(rune('0'+i))+".json")
		runProcess(t, []string{"SLURM_ARRAY_TASK_ID=" + string(rune('0'+i)), "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_COUNT=3"}, append(common, "-o", p)...)
		parts = append(parts, p)
	}
	merged := filepath.Join(tmp, "merged.json")
	if code, _, stderr := runCLI(t, append([]string{"merge", "perplexity", "-q", "-o", merged}, parts...)...); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	read := func(path string) (r struct {
		PPL         float64 `json:"ppl"`
		Uncertainty float64 `json:"ppl_uncertainty"`
		Scored      int     `json:"scored_tokens"`
	}) {
		b, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if a, b := read(whole), read(merged); a != b || a.Scored == 0 {
		t.Errorf("merged %+v, whole run %+v", b, a)
	}
	if code, _, stderr := runCLI(t, "merge", "perplexity", parts[0], parts[2]); code != 2 || !strings.Contains(stderr, "missing") {
		t.Errorf("merging 2 of 3 shards: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, append(common, "--shard", "0/2")...); code != 2 || !strings.Contains(stderr, "needs -o") {
		t.Errorf("sharded without -o: exit %d, %s", code, stderr)
	}
}

// TestShardedCacheProcesses builds a teacher cache whole and as 2 separate processes (AWS Batch
// and Cloud Run indices), merges them with `merge cache` and checks the bytes are the whole
// build's.
func TestShardedCacheProcesses(t *testing.T) {
	model := runFixtureModel(t, "Q8_0")
	valid := filepath.Join(filepath.Dir(filepath.Dir(model)), "valid.txt")
	tmp := t.TempDir()
	text, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	head := filepath.Join(tmp, "head.txt")
	if err := os.WriteFile(head, text[:6000], 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"distill", "cache", "-q", "--teacher", model, "--data", head, "--seq-len", "64", "--topk", "8", "--valid-fraction", "0.2"}
	whole := filepath.Join(tmp, "whole.topk")
	runProcess(t, nil, append(common, "-o", whole)...)
	want, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []func(i string) []string{
		func(i string) []string {
			return []string{"AWS_BATCH_JOB_ARRAY_INDEX=" + i, "AWS_BATCH_JOB_ARRAY_SIZE=2"}
		},
		func(i string) []string { return []string{"CLOUD_RUN_TASK_INDEX=" + i, "CLOUD_RUN_TASK_COUNT=2"} },
	} {
		var parts []string
		for _, i := range []string{"0", "1"} {
			p := filepath.Join(tmp, "part-"+i+".topk")
			runProcess(t, env(i), append(common, "-o", p)...)
			parts = append(parts, p)
		}
		out := filepath.Join(tmp, "merged.topk")
		if code, _, stderr := runCLI(t, append([]string{"merge", "cache", "-q", "-o", out}, parts...)...); code != 0 {
			t.Fatalf("merge: exit %d: %s", code, stderr)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: merged cache differs from the whole build", env("I")[0])
		}
	}
}
