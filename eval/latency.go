package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Device names the machine a model's speed was measured on when it is not the one that ran
// eval: the speeds then come from `mcompress bench --json` run on that device (a phone, a
// single-board computer) and handed to eval with --latency-from.
type Device struct {
	// CPU is the processor as bench read it (/proc/cpuinfo, sysctl); empty if unknown.
	CPU string `json:"cpu,omitempty"`
	// OS and Arch are Go's names for the device's system and architecture.
	OS   string `json:"os,omitempty"`
	Arch string `json:"arch,omitempty"`
	// Kernels is the kernel set the runtime used there ("neon-dotprod", "avx2", ...).
	Kernels string `json:"kernels,omitempty"`
	// Source is the bench file the figures were read from.
	Source string `json:"source"`
}

// String describes the device for people, e.g. "Apple M2 (darwin/arm64, neon-dotprod kernels)".
func (d *Device) String() string {
	var parts []string
	if d.OS != "" || d.Arch != "" {
		parts = append(parts, d.OS+"/"+d.Arch)
	}
	if d.Kernels != "" {
		parts = append(parts, d.Kernels+" kernels")
	}
	cpu := d.CPU
	if cpu == "" {
		cpu = "an unnamed CPU"
	}
	if len(parts) == 0 {
		return cpu
	}
	return cpu + " (" + strings.Join(parts, ", ") + ")"
}

// benchRecord is the part of one `mcompress bench --json` row that eval reads.
type benchRecord struct {
	Model     string  `json:"model"`
	SizeBytes int64   `json:"size_bytes"`
	Kernels   string  `json:"kernels"`
	Threads   int     `json:"threads"`
	Test      string  `json:"test"`
	NPrompt   int     `json:"n_prompt"`
	NGen      int     `json:"n_gen"`
	AvgTS     float64 `json:"avg_ts"`
	CPU       string  `json:"cpu"`
	OS        string  `json:"os"`
	Arch      string  `json:"arch"`
}

// DeviceLatencies are the speeds one `mcompress bench --json` run measured on a device, to be
// reported instead of speeds measured by eval itself (see ReadDeviceLatencies).
type DeviceLatencies struct {
	path string
	rows []benchRecord
}

// ReadDeviceLatencies reads the output of `mcompress bench --json` (a JSON array of rows, or
// one row per line as `-o jsonl` writes them). Each row names the model file, the test (ppN:
// prompt processing, tgN: generation) and its mean tokens per second.
func ReadDeviceLatencies(path string) (*DeviceLatencies, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eval: latency file: %w", err)
	}
	var rows []benchRecord
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		err = json.Unmarshal(t, &rows)
	} else {
		dec := json.NewDecoder(bytes.NewReader(raw))
		for {
			var r benchRecord
			if err = dec.Decode(&r); err != nil {
				break
			}
			rows = append(rows, r)
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("eval: latency file %s: not the JSON output of mcompress bench: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("eval: latency file %s holds no bench results", path)
	}
	for i, r := range rows {
		switch {
		case r.Model == "":
			return nil, fmt.Errorf("eval: latency file %s: row %d names no model", path, i+1)
		case r.NPrompt <= 0 && r.NGen <= 0:
			return nil, fmt.Errorf("eval: latency file %s: row %d (%s) has neither n_prompt nor n_gen", path, i+1, r.Model)
		case !(r.AvgTS > 0) || math.IsInf(r.AvgTS, 0):
			return nil, fmt.Errorf("eval: latency file %s: row %d (%s %s) has speed %v tokens/s", path, i+1, r.Model, r.Test, r.AvgTS)
		}
	}
	return &DeviceLatencies{path: path, rows: rows}, nil
}

// For returns the measured speed of the model file at modelPath. Rows match by file name and,
// when the file can be read, by size (bench records both), so that a different file of the
// same name is not credited with another's speed. Among the matching rows it takes the largest
// thread count, and for it the longest prompt-processing and generation tests; both are needed.
func (d *DeviceLatencies) For(modelPath string) (*Latency, error) {
	name := filepath.Base(modelPath)
	var size int64 = -1
	if st, err := os.Stat(modelPath); err == nil {
		size = st.Size()
	}
	var match []benchRecord
	var names []string
	for _, r := range d.rows {
		if !slices.Contains(names, r.Model) {
			names = append(names, r.Model)
		}
		if r.Model != name {
			continue
		}
		if size >= 0 && r.SizeBytes > 0 && r.SizeBytes != size {
			return nil, fmt.Errorf("eval: latency file %s measured a %s of %d bytes; %s has %d bytes: not the same model",
				d.path, name, r.SizeBytes, modelPath, size)
		}
		match = append(match, r)
	}
	if len(match) == 0 {
		return nil, fmt.Errorf("eval: latency file %s has no measurement of %s (it has %s)", d.path, name, strings.Join(names, ", "))
	}
	threads := 0
	for _, r := range match {
		threads = max(threads, r.Threads)
	}
	var pp, tg *benchRecord
	for i := range match {
		r := &match[i]
		if r.Threads != threads {
			continue
		}
		if r.NGen > 0 && (tg == nil || r.NGen > tg.NGen) {
			tg = r
		} else if r.NGen == 0 && (pp == nil || r.NPrompt > pp.NPrompt) {
			pp = r
		}
	}
	if pp == nil || tg == nil {
		return nil, fmt.Errorf("eval: latency file %s: %s at %d threads needs both a prompt (pp) and a generation (tg) test; run bench with -p and -n",
			d.path, name, threads)
	}
	return &Latency{
		PromptTokens: pp.NPrompt, PromptTokensPerSecond: pp.AvgTS,
		GenTokens: tg.NGen, GenTokensPerSecond: tg.AvgTS,
		Threads: threads,
		Device:  &Device{CPU: tg.CPU, OS: tg.OS, Arch: tg.Arch, Kernels: tg.Kernels, Source: d.path},
	}, nil
}

// ApplyDeviceLatencies replaces every model's latency in r with the speed d measured on the
// device, and recomputes the speed metric and the Pareto fronts.
func ApplyDeviceLatencies(r *Report, d *DeviceLatencies) error {
	for i := range r.Models {
		l, err := d.For(r.Models[i].Path)
		if err != nil {
			return err
		}
		r.Models[i].Latency = l
	}
	r.finish()
	return nil
}

// latencyNote says, for report.md and report.html, where the speeds were measured when that
// was on another device; "" when eval measured them itself.
func (r *Report) latencyNote() string {
	var devices []string
	for _, m := range r.Models {
		if l := m.Latency; l != nil && l.Device != nil {
			if s := fmt.Sprintf("%s with mcompress bench (%s)", l.Device, filepath.Base(l.Device.Source)); !slices.Contains(devices, s) {
				devices = append(devices, s)
			}
		}
	}
	if len(devices) == 0 {
		return ""
	}
	return "Speeds (prompt and gen tok/s) measured on " + strings.Join(devices, "; ") + ", not on the machine that ran eval."
}
