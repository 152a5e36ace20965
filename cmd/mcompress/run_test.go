package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the CLI with args, capturing stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	oldOut, oldErr := os.Stdout, os.Stderr
	ro, wo, _ := os.Pipe()
	re, we, _ := os.Pipe()
	os.Stdout, os.Stderr = wo, we
	outc, errc := make(chan string), make(chan string)
	go func() { b, _ := io.ReadAll(ro); outc <- string(b) }()
	go func() { b, _ := io.ReadAll(re); errc <- string(b) }()
	code := run(args)
	wo.Close()
	we.Close()
	os.Stdout, os.Stderr = oldOut, oldErr
	return code, <-outc, <-errc
}

func runFixtureModel(t *testing.T, typ string) string {
	t.Helper()
	p := filepath.Join(convSharedDir(t), "fixtures", "shakespeare-llama", "gguf", "teacher-"+typ+".gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixture absent: %v", err)
	}
	return p
}

func TestRunCommand(t *testing.T) {
	model := runFixtureModel(t, "Q8_0")
	args := []string{"run", "-m", model, "-p", "ROMEO:", "-n", "12", "--seed", "7", "--json", "-q"}
	code, out, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res runResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Tokens) == 0 || len(res.Tokens) > 12 || res.Text == "" || res.PromptTokens[0] != 1 {
		t.Fatalf("unexpected result %+v", res)
	}
	// The same flags give the same text, with another thread count too.
	_, out2, _ := runCLI(t, append(args, "-t", "1")...)
	var res2 runResult
	_ = json.Unmarshal([]byte(out2), &res2)
	if res2.Text != res.Text {
		t.Fatalf("not reproducible: %q then %q", res.Text, res2.Text)
	}
	// Streaming text output starts with the prompt and ends with a newline.
	code, out, _ = runCLI(t, "run", "-m", model, "-p", "ROMEO:", "-n", "12", "--seed", "7", "-q")
	if code != 0 || out != "ROMEO:"+res.Text+"\n" {
		t.Fatalf("exit %d, streamed %q, want %q", code, out, "ROMEO:"+res.Text+"\n")
	}
}

func TestRunCommandErrors(t *testing.T) {
	model := runFixtureModel(t, "Q8_0")
	for _, args := range [][]string{
		{"run", "-m", model},
		{"run", "-m", model, "-p", "x", "--tokens", "1,2"},
		{"run", "-m", model, "--tokens", "1,abc"},
		{"run", "-m", model, "--tokens", "999999"},
		{"run", "-m", model, "-p", "x", "-n", "0"},
		{"run", "-m", model, "-p", "x", "--top-p", "2"},
		{"run", "-m", filepath.Join(t.TempDir(), "absent.gguf"), "-p", "x"},
	} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args[3:], code, exitUsage)
		}
	}
}

func TestBenchCommand(t *testing.T) {
	model := runFixtureModel(t, "Q4_K_M")
	code, out, stderr := runCLI(t, "bench", "-m", model, "--random", "tiny:q8_0", "-p", "16", "-n", "4", "-r", "2", "-t", "1,2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []benchRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rows) != 8 {
		t.Fatalf("%d rows, want 2 models x 2 thread counts x 2 tests", len(rows))
	}
	for _, r := range rows {
		if (r.Test != "pp16" && r.Test != "tg4") || r.AvgTS <= 0 || len(r.SamplesTS) != 2 {
			t.Errorf("bad row %+v", r)
		}
	}
	code, out, _ = runCLI(t, "bench", "-m", model, "-p", "8", "-n", "0", "-r", "1")
	if code != 0 || !strings.Contains(out, "pp8") || !strings.Contains(out, "teacher-Q4_K_M.gguf") {
		t.Fatalf("exit %d, table:\n%s", code, out)
	}
	for _, args := range [][]string{{"bench"}, {"bench", "--random", "2b:q8_0"}, {"bench", "-m", model, "-r", "0"}, {"bench", "--random", "tiny:zz"}} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
