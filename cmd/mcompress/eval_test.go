package main

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/quantize"
)

// evalRun runs the CLI with args and returns its exit code, stdout and stderr.
func evalRun(t *testing.T, args ...string) (int, string, string) {
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

// evalFixture returns the shakespeare-llama fixture folder, skipping when absent.
func evalFixture(t *testing.T) string {
	t.Helper()
	d := filepath.Join(convSharedDir(t), "fixtures", "shakespeare-llama")
	if _, err := os.Stat(filepath.Join(d, "gguf", "teacher-Q8_0.gguf")); err != nil {
		t.Skipf("shakespeare-llama fixture absent: %v", err)
	}
	return d
}

func TestEvalCommandGates(t *testing.T) {
	fx := evalFixture(t)
	q8, q4 := filepath.Join(fx, "gguf", "teacher-Q8_0.gguf"), filepath.Join(fx, "gguf", "teacher-Q4_0.gguf")
	valid := filepath.Join(fx, "valid.txt")
	task := filepath.Join("..", "..", "eval", "testdata", "tasks", "arc.jsonl")
	out := filepath.Join(t.TempDir(), "report")
	common := []string{"eval", "-q", "--model", q8, "--model", q4, "--data", valid, "-c", "64", "--chunks", "4", "--no-latency", "--task", task}

	// Generous gates pass; the report lists both models and the task.
	code, stdout, stderr := evalRun(t, append(common, "--report", out, "--max-ppl-increase", "50%", "--max-kld", "1", "--json",
		"--size-budget", "1GB,1KB", "--lineage", "teacher-Q4_0=teacher-F32 → quantize Q4_0")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Models []struct {
			Name    string `json:"name"`
			Path    string `json:"path"`
			Lineage string `json:"lineage"`
			Size    struct {
				FileBytes int64 `json:"file_bytes"`
			} `json:"size"`
			Perplexity struct {
				PPL float64 `json:"ppl"`
			} `json:"perplexity"`
			PeakMemoryBytes int64 `json:"peak_memory_bytes"`
			Tasks           []struct {
				Examples int `json:"examples"`
			} `json:"tasks"`
			KLD *struct {
				MeanKLD float64 `json:"mean_kld"`
			} `json:"kld"`
		} `json:"models"`
		Gates struct {
			Passed bool `json:"passed"`
		} `json:"gates"`
		Recommendations []struct {
			Kind  string  `json:"kind"`
			Limit float64 `json:"limit"`
			Model string  `json:"model"`
		} `json:"recommendations"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	// Sizes are the files'; the lineage is the one given; the 1 GB budget gets the model of
	// lower perplexity, the 1 KB one none (then come the default speed floors).
	for _, m := range rep.Models {
		if st, err := os.Stat(m.Path); err != nil || st.Size() != m.Size.FileBytes {
			t.Errorf("%s: file_bytes %d, the file has %v (%v)", m.Name, m.Size.FileBytes, st.Size(), err)
		}
		// Memory: the tensors (nearly the whole file) plus a session's cache and activations.
		if m.PeakMemoryBytes < m.Size.FileBytes*9/10 || m.PeakMemoryBytes > m.Size.FileBytes+16<<20 {
			t.Errorf("%s: peak memory %d for a file of %d bytes", m.Name, m.PeakMemoryBytes, m.Size.FileBytes)
		}
	}
	if rep.Models[1].Lineage != "teacher-F32 → quantize Q4_0" || rep.Models[0].Lineage != "" {
		t.Errorf("lineage %q, %q", rep.Models[0].Lineage, rep.Models[1].Lineage)
	}
	best := rep.Models[0].Name
	if rep.Models[1].Perplexity.PPL < rep.Models[0].Perplexity.PPL {
		best = rep.Models[1].Name
	}
	if r := rep.Recommendations; len(r) != 4 || r[0].Limit != 1e9 || r[0].Model != best || r[1].Model != "" || r[2].Kind != "speed" {
		t.Errorf("recommendations %+v", r)
	}
	if len(rep.Models) != 2 || rep.Models[1].KLD == nil || rep.Models[1].KLD.MeanKLD <= 0 || len(rep.Models[1].Tasks) != 1 || rep.Models[1].Tasks[0].Examples != 2 || !rep.Gates.Passed {
		t.Errorf("report: %+v", rep)
	}
	for _, f := range []string{"report.json", "report.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	// A KLD gate no quantization can meet fails with exit 3, naming the model.
	code, _, stderr = evalRun(t, append(common, "--max-kld", "1e-12")...)
	if code != exitGate || !strings.Contains(stderr, "teacher-Q4_0: mean KL-divergence") || strings.Contains(stderr, "teacher-Q8_0:") {
		t.Errorf("KLD gate: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = evalRun(t, append(common, "--max-ppl-increase", "0%")...)
	if code != exitOK && !(code == exitGate && strings.Contains(stderr, "teacher-Q4_0: perplexity")) {
		t.Errorf("PPL gate: exit %d, stderr %q", code, stderr)
	}
}

func TestEvalCommandBadInput(t *testing.T) {
	fx := evalFixture(t)
	q8 := filepath.Join(fx, "gguf", "teacher-Q8_0.gguf")
	dir := t.TempDir()
	short := filepath.Join(dir, "short.txt")
	if err := os.WriteFile(short, []byte("To be, or not to be."), 0o644); err != nil {
		t.Fatal(err)
	}
	badTask := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(badTask, []byte(`{"goal": "g", "sol1": "a", "sol2": "b", "label": 0}`+"\n{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"short text", []string{"--data", short}, []string{"short.txt", "tokenizes to only"}},
		{"bad task line", []string{"--data", filepath.Join(fx, "valid.txt"), "--task", badTask}, []string{"bad.jsonl", "line 2"}},
		{"missing model", []string{"--model", filepath.Join(dir, "none.gguf"), "--data", short}, []string{"none.gguf"}},
		{"bad gate", []string{"--data", short, "--max-ppl-increase", "five"}, []string{"--max-ppl-increase"}},
		{"ambiguous accuracy gate", []string{"--data", short, "--min-accuracy", "60"}, []string{"--min-accuracy", "60%"}},
		{"bad size gate", []string{"--data", short, "--max-size", "huge"}, []string{"--max-size", "huge"}},
		{"nothing to measure", nil, []string{"--data"}},
		{"bad size budget", []string{"--data", short, "--size-budget", "big"}, []string{"--size-budget", "big"}},
		{"bad speed floor", []string{"--data", short, "--speed-floor", "-3"}, []string{"--speed-floor"}},
		{"bad lineage", []string{"--data", short, "--lineage", "no-equals"}, []string{"--lineage", "MODEL=TEXT"}},
	}
	for _, tt := range tests {
		out := filepath.Join(dir, "report-"+strings.ReplaceAll(tt.name, " ", "-"))
		args := append([]string{"eval", "-q", "--model", q8, "--no-latency", "-c", "64", "--report", out}, tt.args...)
		code, _, stderr := evalRun(t, args...)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d (%s)", tt.name, code, exitUsage, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q lacks %q", tt.name, stderr, w)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: a report folder was created on error", tt.name)
		}
	}
}

func TestPerplexityAndImatrixCommands(t *testing.T) {
	fx := evalFixture(t)
	q8 := filepath.Join(fx, "gguf", "teacher-Q8_0.gguf")
	q4 := filepath.Join(fx, "gguf", "teacher-Q4_0.gguf")
	valid := filepath.Join(fx, "valid.txt")
	dir := t.TempDir()
	base := filepath.Join(dir, "q8.kld")
	code, stdout, stderr := evalRun(t, "perplexity", "-q", "-m", q8, "-f", valid, "-c", "64", "--chunks", "3", "--kl-divergence-base", base)
	if code != 0 || !strings.Contains(stdout, "Final estimate: PPL = ") {
		t.Fatalf("perplexity: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = evalRun(t, "perplexity", "-q", "-m", q4, "--kl-divergence-base", base, "--kl-divergence")
	if code != 0 || !strings.Contains(stdout, "Mean    KLD:") || !strings.Contains(stdout, "Same top p:") {
		t.Fatalf("kl-divergence: exit %d\n%s\n%s", code, stdout, stderr)
	}
	im := filepath.Join(dir, "imatrix.gguf")
	code, stdout, stderr = evalRun(t, "imatrix", "-q", "-m", q8, "-f", valid, "-c", "64", "--chunks", "2", "-o", im)
	if code != 0 {
		t.Fatalf("imatrix: exit %d\n%s\n%s", code, stdout, stderr)
	}
	m, err := quantize.ReadImatrix(im)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 28 || m.ChunkCount != 2 || m.ChunkSize != 64 {
		t.Errorf("imatrix read back: %d entries, %d chunks of %d", len(m.Entries), m.ChunkCount, m.ChunkSize)
	}
	code, _, stderr = evalRun(t, "imatrix", "-q", "-m", q8, "-f", filepath.Join(dir, "none.txt"), "-o", filepath.Join(dir, "x.gguf"))
	if code != exitUsage || !strings.Contains(stderr, "none.txt") {
		t.Errorf("imatrix on a missing text: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.gguf")); err == nil {
		t.Error("imatrix output written on error")
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{"", 0, ""},
		{"5%", 0.05, ""},
		{" 0.5% ", 0.005, ""},
		{"0.05", 0.05, ""},
		{"1", 1, ""},
		{"150%", 1.5, ""},
		{"5", 0, `"5" is ambiguous: write 5% for a 5% increase (or 0.05 as a fraction)`},
		{"-1%", 0, "not a non-negative number"},
		{"NaN", 0, "not a non-negative number"},
		{"five", 0, "not a non-negative number"},
	}
	for _, tc := range tests {
		got, err := parsePercent(tc.in)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("parsePercent(%q) error %v, want %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || math.Abs(got-tc.want) > 1e-12):
			t.Errorf("parsePercent(%q) = %g, %v; want %g", tc.in, got, err, tc.want)
		}
	}
}
