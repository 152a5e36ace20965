package main

import (
	"encoding/json"
	goruntime "runtime"
	"strings"
	"testing"
)

func TestCPUInfoName(t *testing.T) {
	for _, c := range []struct{ name, cpuinfo, want string }{
		{"x86", "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: other\n", "Intel(R) Xeon(R) CPU @ 2.20GHz"},
		{"arm64", "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\n", "CPU implementer 0x41 part 0xd0b"},
		{"android", "Processor\t: AArch64 Processor rev 4 (aarch64)\nCPU implementer\t: 0x51\nCPU part\t: 0x801\nHardware\t: Qualcomm Technologies, Inc SDM845\n", "Qualcomm Technologies, Inc SDM845"},
		{"none", "", ""},
	} {
		if got := cpuInfoName(c.cpuinfo); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestBenchRowJSONNamesMachine checks that bench's JSON rows say where they were measured, as
// eval --latency-from reports it.
func TestBenchRowJSONNamesMachine(t *testing.T) {
	b, err := json.Marshal([]benchRow{{Model: "a.gguf", Test: "tg8", NGen: 8, AvgTS: 3}})
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	if r := rows[0]; r["os"] != goruntime.GOOS || r["arch"] != goruntime.GOARCH || r["model"] != "a.gguf" || r["cpu"] != hostCPU() {
		t.Fatalf("row %s", b)
	}
	b, _ = json.Marshal(benchRow{Model: "b.gguf", CPU: "Apple M2", OS: "darwin", Arch: "arm64"})
	if want := `"cpu":"Apple M2","os":"darwin","arch":"arm64"`; !json.Valid(b) || !strings.Contains(string(b), want) {
		t.Fatalf("a row measured elsewhere: %s, want %s", b, want)
	}
}
