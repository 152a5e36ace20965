package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchJSON is what `mcompress bench --json` wrote on a Raspberry Pi 5 for two models, at one
// and four threads (hand-made figures).
const benchJSON = `[
 {"model":"a.gguf","size_bytes":5,"kernels":"neon-dotprod","threads":1,"test":"pp512","n_prompt":512,"n_gen":0,"avg_ts":50,"cpu":"CPU implementer 0x41 part 0xd0b","os":"linux","arch":"arm64"},
 {"model":"a.gguf","size_bytes":5,"kernels":"neon-dotprod","threads":4,"test":"pp64","n_prompt":64,"n_gen":0,"avg_ts":150,"cpu":"CPU implementer 0x41 part 0xd0b","os":"linux","arch":"arm64"},
 {"model":"a.gguf","size_bytes":5,"kernels":"neon-dotprod","threads":4,"test":"pp512","n_prompt":512,"n_gen":0,"avg_ts":180,"cpu":"CPU implementer 0x41 part 0xd0b","os":"linux","arch":"arm64"},
 {"model":"a.gguf","size_bytes":5,"kernels":"neon-dotprod","threads":4,"test":"tg128","n_prompt":0,"n_gen":128,"avg_ts":21.5,"cpu":"CPU implementer 0x41 part 0xd0b","os":"linux","arch":"arm64"},
 {"model":"a.gguf","size_bytes":5,"kernels":"neon-dotprod","threads":1,"test":"tg128","n_prompt":0,"n_gen":128,"avg_ts":9,"cpu":"CPU implementer 0x41 part 0xd0b","os":"linux","arch":"arm64"},
 {"model":"b.gguf","size_bytes":3,"kernels":"neon-dotprod","threads":4,"test":"pp512","n_prompt":512,"n_gen":0,"avg_ts":300,"cpu":"CPU implementer 0x41 part 0xd0b","os":"linux","arch":"arm64"},
 {"model":"b.gguf","size_bytes":3,"kernels":"neon-dotprod","threads":4,"test":"tg128","n_prompt":0,"n_gen":128,"avg_ts":35,"cpu":"CPU implementer 0x41 part 0xd0b","os":"linux","arch":"arm64"},
 {"model":"c.gguf","size_bytes":3,"kernels":"neon","threads":4,"test":"tg128","n_prompt":0,"n_gen":128,"avg_ts":35}
]`

// writeFiles writes name→content files into a new temporary folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadDeviceLatencies(t *testing.T) {
	jsonl := `{"model":"a.gguf","threads":2,"test":"pp8","n_prompt":8,"avg_ts":10}
{"model":"a.gguf","threads":2,"test":"tg8","n_gen":8,"avg_ts":5}
`
	for _, c := range []struct {
		name, content, err string
	}{
		{"array", benchJSON, ""},
		{"jsonl", jsonl, ""},
		{"not json", "model,t/s\na.gguf,3\n", "not the JSON output of mcompress bench"},
		{"empty", "[]", "holds no bench results"},
		{"no model", `[{"test":"tg8","n_gen":8,"avg_ts":5}]`, "row 1 names no model"},
		{"no test", `[{"model":"a.gguf","avg_ts":5}]`, "neither n_prompt nor n_gen"},
		{"zero speed", `[{"model":"a.gguf","test":"tg8","n_gen":8,"avg_ts":0}]`, "speed 0 tokens/s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(writeFiles(t, map[string]string{"bench.json": c.content}), "bench.json")
			_, err := ReadDeviceLatencies(path)
			switch {
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), path)):
				t.Fatalf("error %v, want one naming %s and saying %q", err, path, c.err)
			}
		})
	}
	if _, err := ReadDeviceLatencies(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("no error for a missing file")
	}
}

func TestDeviceLatencyFor(t *testing.T) {
	dir := writeFiles(t, map[string]string{"bench.json": benchJSON, "a.gguf": "12345", "b.gguf": "1234", "c.gguf": "123"})
	d, err := ReadDeviceLatencies(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	// a.gguf: four threads (the most measured), its longest pp test; the file's size matches.
	l, err := d.For(filepath.Join(dir, "a.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	want := Latency{PromptTokens: 512, PromptTokensPerSecond: 180, GenTokens: 128, GenTokensPerSecond: 21.5, Threads: 4}
	if got := *l; got.Device == nil || got.Device.CPU != "CPU implementer 0x41 part 0xd0b" || got.Device.Arch != "arm64" ||
		got.Device.Kernels != "neon-dotprod" || got.Device.Source != filepath.Join(dir, "bench.json") {
		t.Fatalf("device %+v", got.Device)
	} else if got.Device = nil; got != want {
		t.Fatalf("latency %+v, want %+v", got, want)
	}
	for _, c := range []struct{ model, err string }{
		{"b.gguf", "measured a b.gguf of 3 bytes; " + filepath.Join(dir, "b.gguf") + " has 4 bytes"},
		{"c.gguf", "needs both a prompt (pp) and a generation (tg) test"},
		{"d.gguf", "has no measurement of d.gguf (it has a.gguf, b.gguf, c.gguf)"},
	} {
		if _, err := d.For(filepath.Join(dir, c.model)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", c.model, err, c.err)
		}
	}
	// A model that is not on this machine matches by name alone.
	if l, err := d.For("/elsewhere/b.gguf"); err != nil || l.GenTokensPerSecond != 35 {
		t.Fatalf("b.gguf elsewhere: %+v, %v", l, err)
	}
}

// TestApplyDeviceLatencies checks that a report takes the device's speeds, ranks models by
// them, and says in report.md and report.html where they were measured.
func TestApplyDeviceLatencies(t *testing.T) {
	r := fakeReport(Gates{})
	r.Models = r.Models[:2] // F32, Q8_0
	var rows []string
	for _, c := range []struct {
		name   string
		pp, tg string
	}{{"F32", "40", "2.5"}, {"Q8_0", "90", "9.25"}} {
		for _, test := range []string{`"test":"pp128","n_prompt":128,"avg_ts":` + c.pp, `"test":"tg32","n_gen":32,"avg_ts":` + c.tg} {
			rows = append(rows, `{"model":"`+c.name+`.gguf","threads":4,"kernels":"neon","cpu":"Cortex-A76","os":"android","arch":"arm64",`+test+`}`)
		}
	}
	path := filepath.Join(writeFiles(t, map[string]string{"pixel.json": "[" + strings.Join(rows, ",") + "]"}), "pixel.json")
	d, err := ReadDeviceLatencies(path)
	if err != nil {
		t.Fatal(err)
	}
	before := r.Markdown()
	if strings.Contains(string(before), "measured on") {
		t.Fatal("report.md speaks of a device before any was given")
	}
	if err := ApplyDeviceLatencies(r, d); err != nil {
		t.Fatal(err)
	}
	if r.SpeedMetric != "gen_tokens_per_second" || r.Models[0].Speed != 2.5 || r.Models[1].Speed != 9.25 {
		t.Fatalf("speed metric %s, speeds %g, %g", r.SpeedMetric, r.Models[0].Speed, r.Models[1].Speed)
	}
	note := "measured on Cortex-A76 (android/arm64, neon kernels) with mcompress bench (pixel.json)"
	if md := string(r.Markdown()); !strings.Contains(md, note) || !strings.Contains(md, "| 90.0 | 9.2 |") {
		t.Errorf("report.md lacks the device note or its speeds:\n%s", md)
	}
	if h := string(r.HTML()); !strings.Contains(h, `<p id="latency-device">Speeds`) || !strings.Contains(h, "Cortex-A76") {
		t.Error("report.html lacks the device note")
	}
	r.Models = append(r.Models, ModelReport{Name: "Q4_0", Path: "/models/Q4_0.gguf"})
	if err := ApplyDeviceLatencies(r, d); err == nil || !strings.Contains(err.Error(), "no measurement of Q4_0.gguf") {
		t.Fatalf("a model missing from the file: error %v", err)
	}
}
