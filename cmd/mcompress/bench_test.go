package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/runtime/kernels"
)

func TestBenchTests(t *testing.T) {
	for _, tc := range []struct {
		p, n    []int
		want    []benchTest
		wantErr bool
	}{
		{[]int{512}, []int{128}, []benchTest{{Prompt: 512}, {Gen: 128}}, false},
		{[]int{64, 128}, []int{16, 32}, []benchTest{{Prompt: 64}, {Prompt: 128}, {Gen: 16}, {Gen: 32}}, false},
		{[]int{0}, []int{4}, []benchTest{{Gen: 4}}, false},
		{[]int{8, 0}, []int{0}, []benchTest{{Prompt: 8}}, false},
		{[]int{0}, []int{0}, nil, true},
		{[]int{-1}, []int{4}, nil, true},
		{[]int{8}, []int{-4}, nil, true},
	} {
		got, err := benchTests(tc.p, tc.n)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("benchTests(%v, %v) = %v, %v; want %v (error %v)", tc.p, tc.n, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestBenchListsAndFormats runs bench as llama-bench users call it: comma lists for -p and -n,
// and -o for the format.
func TestBenchListsAndFormats(t *testing.T) {
	base := []string{"bench", "--random", "tiny:q8_0", "-p", "8,16", "-n", "2", "-n", "3", "-r", "1", "-q"}
	code, out, stderr := runCLI(t, append(base, "-o", "json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []benchRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var tests []string
	for _, r := range rows {
		tests = append(tests, r.Test)
	}
	if want := []string{"pp8", "pp16", "tg2", "tg3"}; !reflect.DeepEqual(tests, want) {
		t.Fatalf("tests %v, want %v", tests, want)
	}
	for _, tc := range []struct {
		format string
		check  func(out string) error
	}{
		{"jsonl", func(out string) error {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 4 {
				return errors.New("want 4 lines")
			}
			var r benchRow
			return json.Unmarshal([]byte(lines[3]), &r)
		}},
		{"csv", func(out string) error {
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil {
				return err
			}
			if len(recs) != 5 || recs[0][0] != "model" || recs[0][5] != "test" || recs[2][5] != "pp16" {
				return errors.New("want a header and 4 records")
			}
			return nil
		}},
		{"md", func(out string) error {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 6 || !strings.HasPrefix(lines[0], "| model |") || !strings.HasPrefix(lines[1], "| ---: |") || !strings.Contains(lines[5], "| tg3 |") {
				return errors.New("want a Markdown table of 4 rows")
			}
			return nil
		}},
		{"table", func(out string) error {
			if !strings.Contains(out, "pp16|") || !strings.Contains(out, "t/cpu-s|") {
				return errors.New("want the aligned table")
			}
			return nil
		}},
	} {
		code, out, stderr := runCLI(t, append(base, "-o", tc.format)...)
		if code != 0 {
			t.Fatalf("-o %s: exit %d: %s", tc.format, code, stderr)
		}
		if err := tc.check(out); err != nil {
			t.Errorf("-o %s: %v:\n%s", tc.format, err, out)
		}
	}
	for _, args := range [][]string{
		{"bench", "--random", "tiny:q8_0", "-o", "xml"},
		{"bench", "--random", "tiny:q8_0", "-p", "8,x"},
		{"bench", "--random", "tiny:q8_0", "-p", "0", "-n", "0"},
		{"bench", "--random", "tiny:q8_0", "-p", "-8"},
	} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestBenchKernels runs bench --kernels on a small matrix: the rows are complete and the check
// flag is wired (no timing is asserted).
func TestBenchKernels(t *testing.T) {
	code, out, stderr := runCLI(t, "bench", "--kernels", "--kernel-mib", "4", "--types", "q8_0,q3_k,f16", "-r", "1", "-t", "1", "--json", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []kernelRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rows) != 3 || rows[0].Type != "Q8_0" || rows[1].Type != "Q3_K" || rows[2].Type != "F16" {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if r.KernelGBs <= 0 || r.MemoryGBs <= 0 || r.Ratio <= 0 || r.Threads != 1 || r.Bytes < 3<<20 || r.Bytes > 4<<20 {
			t.Errorf("bad row %+v", r)
		}
	}
	// An impossible floor fails with the gate's exit code, unless the kernels are pure Go.
	code, _, _ = runCLI(t, "bench", "--kernels", "--kernel-mib", "4", "--types", "q8_0", "-r", "1", "-t", "1", "--check", "1000", "-q")
	if want := map[bool]int{true: exitOK, false: exitGate}[rows[0].Kernels == "purego"]; code != want {
		t.Errorf("--check 1000: exit %d, want %d", code, want)
	}
	for _, args := range [][]string{
		{"bench", "--kernels", "--types", "q9_9"},
		{"bench", "--kernels", "--kernel-mib", "0"},
		{"bench", "--kernels", "-r", "0"},
		{"bench", "--kernels", "-o", "xml"},
	} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestCheckKernelRows(t *testing.T) {
	rows := func(rs ...kernelRow) []kernelRow { return rs }
	for _, tc := range []struct {
		name  string
		rows  []kernelRow
		floor float64
		fail  string // substring of the error; "" for none
	}{
		{"no floor", rows(kernelRow{Type: "Q8_0", Kernels: "avx2", Ratio: 0.01}), 0, ""},
		{"memory-bound above", rows(kernelRow{Type: "Q8_0", Kernels: "avx2", Ratio: 0.5}), 0.2, ""},
		{"tenfold pathology", rows(kernelRow{Type: "Q8_0", Kernels: "avx2", Ratio: 0.08}), 0.2, "Q8_0 0.08 < 0.20"},
		{"compute-bound held to a quarter", rows(kernelRow{Type: "Q3_K", Kernels: "avx512", Ratio: 0.1}), 0.2, ""},
		{"compute-bound pathology", rows(kernelRow{Type: "Q3_K", Kernels: "avx512", Ratio: 0.011}), 0.2, "Q3_K 0.01 < 0.05"},
		{"pure Go not checked", rows(kernelRow{Type: "Q8_0", Kernels: "purego", Ratio: 0.01}), 0.2, ""},
		{"every slow type named", rows(kernelRow{Type: "F16", Kernels: "avx2", Ratio: 0.1}, kernelRow{Type: "Q4_0", Kernels: "avx2", Ratio: 0.9},
			kernelRow{Type: "Q4_K", Kernels: "avx2", Ratio: 0.05}), 0.2, "F16 0.10 < 0.20, Q4_K 0.05 < 0.20"},
	} {
		err := checkKernelRows(tc.rows, tc.floor)
		var ge gateError
		switch {
		case tc.fail == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.fail != "" && (!errors.As(err, &ge) || !strings.Contains(err.Error(), tc.fail)):
			t.Errorf("%s: error %v, want a gate error naming %q", tc.name, err, tc.fail)
		}
	}
}

func TestSumWords(t *testing.T) {
	b := make([]byte, 8*37+5)
	var want uint64
	for i := 0; i+8 <= len(b); i += 8 {
		b[i] = byte(i / 8)
		want += uint64(i / 8)
	}
	b[len(b)-1] = 0xff // a partial word is ignored
	if got := sumWords(b); got != want {
		t.Fatalf("sumWords = %d, want %d", got, want)
	}
}

// TestBenchMatrixEveryType builds the bench --kernels matrix of every type with a kernel: the
// codebook types, which refuse to quantize without importance weights, failed here and stopped
// make bench-check.
func TestBenchMatrixEveryType(t *testing.T) {
	buf := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range kernels.SupportedTypes() {
		if _, err := benchMatrix(typ, buf, rng); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}
