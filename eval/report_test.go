package eval

import (
	"encoding/json"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeReport builds a report of four models without running any, for the writers' tests.
func fakeReport(gates Gates) *Report {
	mk := func(name string, bytes int64, ppl, kld, speed float64) ModelReport {
		m := ModelReport{Name: name, Path: "/models/" + name + ".gguf", Size: &Size{FileBytes: bytes, TensorBytes: bytes - 1000, Params: 4_000_000, BitsPerWeight: float64(bytes-1000) * 8 / 4e6},
			Perplexity: &PerplexityResult{PPL: ppl, Uncertainty: ppl / 30, Scored: 1270, Chunks: 10, Context: 256},
			Latency:    &Latency{PromptTokens: 128, PromptTokensPerSecond: 4 * speed, GenTokens: 32, GenTokensPerSecond: speed}}
		if kld >= 0 {
			m.KLD = &KLDResult{PPL: ppl, MeanKLD: kld, SameTopP: 1 - 10*kld, KLD: Distribution{P99: 5 * kld}}
		} else {
			m.IsBase = true
		}
		return m
	}
	r := &Report{Tool: "mcompress eval", Base: "/models/F32.gguf", Data: &DataInfo{Path: "valid.txt", Tokens: 46231, Context: 256, Chunks: 10, Scored: 1270},
		Models: []ModelReport{
			mk("F32", 16_833_792, 60.4514, -1, 380.5),
			mk("Q8_0", 4_513_024, 60.453172, 2e-05, 1500.25),
			mk("Q4_K_M", 2_669_312, 60.496785, 0.000944, 1400.125),
			mk("Q2_K", 1_810_688, 61.369425, 0.014167, 90.75),
			mk("Q4_<odd>&\"name", 2_780_416, 60.542574, 0.001313, 1300), // dominated on every chart
		},
		Gates: GateReport{Gates: gates}}
	r.Models[2].Tasks = []TaskResult{{Name: "arc", Examples: 2, Acc: 0.5, AccStderr: 0.5, AccNorm: 1}}
	r.Models[2].Lineage = "F32 → quantize Q4_K_M (imatrix on train.txt)"
	r.finish()
	return r
}

func TestParetoAndGates(t *testing.T) {
	r := fakeReport(Gates{MaxPPLIncrease: 0.01, MaxKLD: 0.002})
	want := map[string]Pareto{
		"F32":             {PPLSize: true, PPLSpeed: true, KLDSize: true}, // the lowest perplexity
		"Q8_0":            {PPLSize: true, PPLSpeed: true, KLDSize: true},
		"Q4_K_M":          {PPLSize: true, PPLSpeed: false, KLDSize: true},
		"Q2_K":            {PPLSize: true, PPLSpeed: false, KLDSize: true},
		"Q4_<odd>&\"name": {},
	}
	for _, m := range r.Models {
		if m.Pareto != want[m.Name] {
			t.Errorf("%s: Pareto %+v, want %+v", m.Name, m.Pareto, want[m.Name])
		}
	}
	if r.Gates.Passed || len(r.Gates.Failures) != 2 {
		t.Fatalf("gates: passed %v, failures %q", r.Gates.Passed, r.Gates.Failures)
	}
	err := r.GateError()
	if err == nil || !strings.Contains(err.Error(), "Q2_K: perplexity") || !strings.Contains(err.Error(), "Q2_K: mean KL-divergence") || strings.Contains(err.Error(), "Q4_K_M") {
		t.Errorf("gate error %v should name Q2_K's perplexity and KLD and nothing else", err)
	}
	if inc := r.Models[3].PPLIncrease; inc < 0.0151 || inc > 0.0152 {
		t.Errorf("Q2_K PPL increase %v", inc)
	}
	if r.SpeedMetric != "gen_tokens_per_second" || r.Models[1].Speed != 1500.25 {
		t.Errorf("speed metric %q, Q8_0 speed %v", r.SpeedMetric, r.Models[1].Speed)
	}
	ok := fakeReport(Gates{MaxPPLIncrease: 0.05, MaxKLD: 0.05})
	if !ok.Gates.Passed || ok.GateError() != nil {
		t.Errorf("generous gates failed: %v", ok.Gates.Failures)
	}
}

// TestAccuracyAndSizeGates checks --min-accuracy (every task of a model) and --max-size (the
// file), which the base is exempt from like the other gates.
func TestAccuracyAndSizeGates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gates Gates
		want  []string
	}{
		{"accuracy", Gates{MinAccuracy: 0.6}, []string{"Q4_K_M: accuracy 50.00% on task arc is below the limit 60.00%"}},
		{"accuracy met", Gates{MinAccuracy: 0.5}, nil},
		{"size", Gates{MaxSizeBytes: 2_700_000}, []string{"Q8_0: file of 4513024 bytes exceeds the limit of 2700000", "Q4_<odd>&\"name: file of 2780416 bytes exceeds the limit of 2700000"}},
		{"both", Gates{MinAccuracy: 0.6, MaxSizeBytes: 2_700_000}, []string{"Q8_0: file", "Q4_K_M: accuracy", "Q4_<odd>&\"name: file"}},
	} {
		r := fakeReport(tc.gates)
		if r.Gates.Passed != (len(tc.want) == 0) || len(r.Gates.Failures) != len(tc.want) {
			t.Errorf("%s: passed %v, failures %q; want %q", tc.name, r.Gates.Passed, r.Gates.Failures, tc.want)
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(r.Gates.Failures[i], w) {
				t.Errorf("%s: failure %d is %q, want it to start with %q", tc.name, i, r.Gates.Failures[i], w)
			}
		}
		if md := string(r.Markdown()); len(tc.want) > 0 && !strings.Contains(md, "file at most") && !strings.Contains(md, "accuracy at least") {
			t.Errorf("%s: report.md does not list the gate", tc.name)
		}
	}
}

func TestWriteReportAtomic(t *testing.T) {
	r := fakeReport(Gates{})
	dir := t.TempDir()
	// A new folder appears whole.
	out := filepath.Join(dir, "new", "report")
	if err := WriteReport(out, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range ReportFiles {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// An existing folder keeps other files and gets no leftovers.
	if err := os.WriteFile(filepath.Join(out, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(out, r); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 4 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("report folder holds %v, want the three reports and keep.txt", names)
	}
	// A path under a file fails without leaving anything.
	file := filepath.Join(dir, "afile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(file, r); err == nil {
		t.Error("report over a file: no error")
	}
	ents, _ = os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("leftovers after a failed write: %d entries in %s", len(ents), dir)
	}
	// report.json round-trips.
	raw, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Models) != 5 || back.Models[2].Perplexity.PPL != 60.496785 || !back.Models[0].IsBase {
		t.Errorf("report.json read back wrong: %+v", back.Models)
	}
	md := string(r.Markdown())
	for _, s := range []string{"| Q4_K_M | 2.55 |", "F32 (base)", "## Tasks", "No gates were set."} {
		if !strings.Contains(md, s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []string
	}{
		{0.9, 17.1, []string{"5", "10", "15"}},
		{0.9, 3.1, []string{"1.0", "1.5", "2.0", "2.5", "3.0"}},
		{60.4, 61.4, []string{"60.4", "60.6", "60.8", "61.0", "61.2", "61.4"}},
		{-0.001, 0.015, []string{"0.000", "0.005", "0.010", "0.015"}},
	}
	for _, tt := range tests {
		ticks := niceTicks(tt.lo, tt.hi, 5)
		var got []string
		for _, v := range ticks {
			got = append(got, tickLabel(v, ticks[1]-ticks[0]))
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("ticks(%g, %g) = %v, want %v", tt.lo, tt.hi, got, tt.want)
		}
	}
}

// chromiumFlags are the flags for a headless, offline, throwaway Chromium.
func chromiumFlags(profile string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile}
}

var pointRE = regexp.MustCompile(`<g class="point[^"]*" data-model="([^"]*)" data-x="([^"]*)" data-y="([^"]*)" data-pareto="(true|false)">`)
var chartRE = regexp.MustCompile(`<svg class="chart" id="([^"]+)"[^>]*data-x-metric="([^"]+)" data-y-metric="([^"]+)"`)

// TestReportHTMLInChromium opens report.html offline in headless Chromium and checks that the
// rendered DOM has one chart point per model whose data attributes equal report.json's
// numbers, and that the browser logs no console error.
func TestReportHTMLInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	r := fakeReport(Gates{MaxKLD: 0.002})
	dir := t.TempDir()
	out := filepath.Join(dir, "report")
	if err := WriteReport(out, r); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Models []struct {
			Name string `json:"name"`
			Size struct {
				FileBytes float64 `json:"file_bytes"`
			} `json:"size"`
			Perplexity struct {
				PPL float64 `json:"ppl"`
			} `json:"perplexity"`
			KLD *struct {
				MeanKLD float64 `json:"mean_kld"`
			} `json:"kld"`
			Speed  float64         `json:"speed"`
			Pareto map[string]bool `json:"pareto"`
		} `json:"models"`
		Recommendations []struct {
			Kind  string  `json:"kind"`
			Limit float64 `json:"limit"`
			Model string  `json:"model"`
		} `json:"recommendations"`
	}
	if err := json.Unmarshal(raw, &js); err != nil {
		t.Fatal(err)
	}
	args := append(chromiumFlags(filepath.Join(dir, "profile")), "--enable-logging=stderr", "--v=0", "--dump-dom", "file://"+filepath.Join(out, "report.html"))
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan struct{})
	var dom []byte
	go func() { dom, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("chromium did not finish in 2 minutes")
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") || strings.Contains(line, "net::ERR") {
			t.Errorf("browser console: %s", line)
		}
	}
	page := string(dom)
	charts := chartRE.FindAllStringSubmatch(page, -1)
	if len(charts) != 3 {
		t.Fatalf("rendered DOM has %d charts, want 3", len(charts))
	}
	// Split the DOM by chart and check each chart's points against report.json.
	for ci, c := range charts {
		start := strings.Index(page, `<svg class="chart" id="`+c[1]+`"`)
		end := strings.Index(page[start:], "</svg>") + start
		points := pointRE.FindAllStringSubmatch(page[start:end], -1)
		if len(points) != len(js.Models) {
			t.Errorf("chart %s: %d points, want %d", c[1], len(points), len(js.Models))
			continue
		}
		for i, p := range points {
			m := js.Models[i]
			var wantX, wantY float64
			var wantFront bool
			switch c[1] {
			case "ppl-vs-size":
				wantX, wantY, wantFront = m.Size.FileBytes, m.Perplexity.PPL, m.Pareto["ppl_vs_size"]
			case "ppl-vs-speed":
				wantX, wantY, wantFront = m.Speed, m.Perplexity.PPL, m.Pareto["ppl_vs_speed"]
			case "kld-vs-size":
				wantX, wantFront = m.Size.FileBytes, m.Pareto["kld_vs_size"]
				if m.KLD != nil {
					wantY = m.KLD.MeanKLD
				}
			default:
				t.Fatalf("unexpected chart %q", c[1])
			}
			x, errx := strconv.ParseFloat(p[2], 64)
			y, erry := strconv.ParseFloat(p[3], 64)
			if html.UnescapeString(p[1]) != m.Name || errx != nil || erry != nil || x != wantX || y != wantY || (p[4] == "true") != wantFront {
				t.Errorf("chart %d %s point %d: %v, report.json has %s x=%v y=%v pareto=%v", ci, c[1], i, p[1:], m.Name, wantX, wantY, wantFront)
			}
		}
		if !strings.Contains(page[start:end], `class="front"`) {
			t.Errorf("chart %s draws no Pareto front", c[1])
		}
	}
	if !strings.Contains(page, `data-passed="false"`) || !strings.Contains(page, "Q2_K: mean KL-divergence") {
		t.Error("the failed gate is not shown")
	}
	// The recommendations shown are report.json's.
	recs := recRE.FindAllStringSubmatch(page, -1)
	if len(recs) != len(js.Recommendations) || len(recs) == 0 {
		t.Fatalf("%d recommendations shown, report.json has %d", len(recs), len(js.Recommendations))
	}
	for i, rec := range recs {
		want := js.Recommendations[i]
		limit, err := strconv.ParseFloat(rec[2], 64)
		if rec[1] != want.Kind || err != nil || limit != want.Limit || html.UnescapeString(rec[3]) != want.Model {
			t.Errorf("recommendation %d shown as %v, report.json has %+v", i, rec[1:], want)
		}
	}
	if !strings.Contains(page, "F32 → quantize Q4_K_M") {
		t.Error("the lineage is not shown")
	}
}

// recRE matches a rendered recommendation: kind, limit and model.
var recRE = regexp.MustCompile(`<li data-kind="([a-z]+)" data-limit="([^"]+)" data-model="([^"]*)">`)

// TestRecommendation checks that under each budget the recommendation is the variant of lowest
// perplexity that fits and passes the gates, found here by brute force, and that a budget
// nothing fits says so.
func TestRecommendation(t *testing.T) {
	tests := []struct {
		name    string
		gates   Gates
		budgets Budgets
		want    []string // recommended model per budget, sizes first
	}{
		{name: "given budgets", budgets: Budgets{SizeBytes: []int64{5_000_000, 2_700_000, 1_000_000}, SpeedFloors: []float64{1000, 1450, 2000}},
			want: []string{"Q8_0", "Q4_K_M", "", "Q8_0", "Q8_0", ""}},
		{name: "defaults: half and a quarter of the base, twice and four times its speed", want: []string{"Q8_0", "Q4_K_M", "Q8_0", ""}},
		{name: "gated variants are not recommended", gates: Gates{MaxPPLIncrease: 0.001}, budgets: Budgets{SizeBytes: []int64{2_000_000}}, want: []string{"", "Q8_0", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fakeReport(tt.gates)
			r.Budgets = tt.budgets
			r.finish()
			if len(r.Recommendations) != len(tt.want) {
				t.Fatalf("%d recommendations, want %d: %+v", len(r.Recommendations), len(tt.want), r.Recommendations)
			}
			for i, rec := range r.Recommendations {
				// Brute force: the lowest perplexity among the models that fit and pass.
				best := ""
				bestPPL := math.Inf(1)
				for _, m := range r.Models {
					fits := float64(m.Size.FileBytes) <= rec.Limit
					if rec.Kind == "speed" {
						fits = m.Speed >= rec.Limit
					}
					if fits && len(m.GateFailures) == 0 && m.Perplexity.PPL < bestPPL {
						best, bestPPL = m.Name, m.Perplexity.PPL
					}
				}
				if rec.Model != best || rec.Model != tt.want[i] {
					t.Errorf("%s ≤/≥ %v: recommended %q, brute force %q, want %q (%s)", rec.Kind, rec.Limit, rec.Model, best, tt.want[i], rec.Reason)
				}
				if rec.Model == "" && !strings.Contains(rec.Reason, "no variant") {
					t.Errorf("empty recommendation's reason %q", rec.Reason)
				}
				if rec.Model != "" && !strings.HasPrefix(rec.Reason, rec.Model+": ") {
					t.Errorf("reason %q does not start with the model", rec.Reason)
				}
				if strings.Contains(rec.Reason, "\n") {
					t.Errorf("reason %q is more than one line", rec.Reason)
				}
				if rec.Default != (len(tt.budgets.SizeBytes) == 0 && rec.Kind == "size" || len(tt.budgets.SpeedFloors) == 0 && rec.Kind == "speed") {
					t.Errorf("%s %v: default %v", rec.Kind, rec.Limit, rec.Default)
				}
			}
		})
	}
	// A noisy speed is flagged and the speed recommendation says so.
	r := fakeReport(Gates{})
	r.Models[1].Latency.GenSpread = 0.5
	r.finish()
	if !r.Models[1].SpeedUnstable || r.Models[2].SpeedUnstable || r.Models[1].SpeedSpread != 0.5 {
		t.Errorf("speed spread flags: %+v %+v", r.Models[1], r.Models[2])
	}
	for _, rec := range r.Recommendations {
		if rec.Kind == "speed" && !strings.Contains(rec.Reason, "too much between runs to rank") {
			t.Errorf("speed recommendation %q does not warn of the spread", rec.Reason)
		}
	}
	if md := string(r.Markdown()); !strings.Contains(md, "⚠") || !strings.Contains(md, "## Recommendation") {
		t.Errorf("report.md lacks the recommendation or the speed warning")
	}
	page := string(r.HTML())
	if n := len(recRE.FindAllString(page, -1)); n != len(r.Recommendations) || !strings.Contains(page, `id="speed-warning"`) {
		t.Errorf("report.html shows %d of %d recommendations, speed warning %v", n, len(r.Recommendations), strings.Contains(page, `id="speed-warning"`))
	}
}

// TestParetoFront checks paretoFront against its definition on random points with ties.
func TestParetoFront(t *testing.T) {
	tests := []struct {
		name string
		xy   [][2]float64
		want []bool
	}{
		{"one", [][2]float64{{1, 1}}, []bool{true}},
		{"dominated", [][2]float64{{1, 1}, {2, 2}}, []bool{true, false}},
		{"trade-off", [][2]float64{{1, 3}, {2, 2}, {3, 1}}, []bool{true, true, true}},
		{"tie on x", [][2]float64{{1, 2}, {1, 1}}, []bool{false, true}},
		{"equal points both stay", [][2]float64{{1, 1}, {1, 1}, {2, 0.5}, {3, 0.5}}, []bool{true, true, true, false}},
	}
	for _, tt := range tests {
		ms := make([]ModelReport, len(tt.xy))
		got := paretoFront(ms, func(m *ModelReport) float64 { return tt.xy[indexOf(ms, m)][0] }, func(m *ModelReport) float64 { return tt.xy[indexOf(ms, m)][1] })
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// indexOf returns m's index in ms.
func indexOf(ms []ModelReport, m *ModelReport) int {
	for i := range ms {
		if &ms[i] == m {
			return i
		}
	}
	return -1
}

// TestChartsReadable checks the charts' error bars (one per model with an uncertainty) and that
// a variant far off the others switches the y axis to a logarithmic one.
func TestChartsReadable(t *testing.T) {
	for _, tt := range []struct {
		name    string
		q2PPL   float64
		wantLog bool
	}{{"close variants", 61.37, false}, {"one variant far off", 600, true}} {
		r := fakeReport(Gates{})
		r.Models[3].Perplexity.PPL = tt.q2PPL
		for i := range r.Models {
			if k := r.Models[i].KLD; k != nil {
				k.MeanKLDUncertainty = k.MeanKLD / 10
			}
		}
		r.finish()
		for _, c := range r.charts() {
			svg := svgChart(r, c)
			if got := strings.Contains(svg, `data-y-log="true"`); c.id != "kld-vs-size" && got != tt.wantLog {
				t.Errorf("%s, %s: logarithmic y %v, want %v", tt.name, c.id, got, tt.wantLog)
			}
			want := len(r.Models)
			if c.id == "kld-vs-size" {
				want-- // the base has no KLD
			}
			if n := strings.Count(svg, `<line class="err"`); n != want {
				t.Errorf("%s, %s: %d error bars, want %d", tt.name, c.id, n, want)
			}
		}
	}
}
