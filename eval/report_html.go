package eval

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
)

// chartSpec describes one scatter chart of the HTML report.
type chartSpec struct {
	id, title        string
	xMetric, yMetric string // names of the report.json fields plotted (data-x-metric ...)
	xLabel, yLabel   string
	x, y             func(*ModelReport) float64
	xScale           float64 // display unit: value/xScale on the axis
	front            func(*ModelReport) bool
	higherXBetter    bool
	xLog             bool // logarithmic x axis when the values span more than a factor of 3
	// yErr, when not nil, gives the uncertainty drawn as an error bar (y ± yErr).
	yErr func(*ModelReport) float64
}

// pplErr and kldErr are the charts' error bars: llama.cpp's uncertainties.
func pplErr(m *ModelReport) float64 { return m.Perplexity.Uncertainty }
func kldErr(m *ModelReport) float64 {
	if m.KLD == nil {
		return 0
	}
	return m.KLD.MeanKLDUncertainty
}

// num formats a float for data attributes: the shortest form that parses back to the same
// float64, as encoding/json writes it.
func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// charts lists the charts the report has data for.
func (r *Report) charts() []chartSpec {
	if !r.hasPPL() {
		return nil
	}
	size := func(m *ModelReport) float64 { return float64(m.Size.FileBytes) }
	ppl := func(m *ModelReport) float64 { return m.Perplexity.PPL }
	cs := []chartSpec{
		{id: "ppl-vs-size", title: "Perplexity against file size", xMetric: "size.file_bytes", yMetric: "perplexity.ppl",
			xLabel: "file size (MiB)", yLabel: "perplexity", x: size, y: ppl, xScale: 1 << 20, xLog: true,
			front: func(m *ModelReport) bool { return m.Pareto.PPLSize }, yErr: pplErr},
		{id: "ppl-vs-speed", title: "Perplexity against " + speedLabel(r.SpeedMetric), xMetric: "speed", yMetric: "perplexity.ppl",
			xLabel: speedLabel(r.SpeedMetric), yLabel: "perplexity", x: func(m *ModelReport) float64 { return m.Speed }, y: ppl, xScale: 1,
			front: func(m *ModelReport) bool { return m.Pareto.PPLSpeed }, higherXBetter: true, yErr: pplErr},
	}
	if r.hasKLD() {
		cs = append(cs, chartSpec{id: "kld-vs-size", title: "Mean KL-divergence from the base against file size", xMetric: "size.file_bytes", yMetric: "kld.mean_kld",
			xLabel: "file size (MiB)", yLabel: "mean KLD (nats)", x: size, y: (*ModelReport).kld, xScale: 1 << 20, xLog: true,
			front: func(m *ModelReport) bool { return m.Pareto.KLDSize }, yErr: kldErr})
	}
	return cs
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		d := math.Max(math.Abs(lo)*0.05, 1e-9)
		lo, hi = lo-d, hi+d
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+step*1e-9; i++ {
		v := i * step
		if math.Abs(v) < step*1e-9 {
			v = 0 // no "-0"
		}
		ticks = append(ticks, v)
	}
	return ticks
}

// tickLabel formats a tick value with as many decimals as the step needs.
func tickLabel(v, step float64) string {
	dec := 0
	for ; dec < 10; dec++ {
		scaled := step * math.Pow(10, float64(dec))
		if math.Abs(scaled-math.Round(scaled)) < 1e-6*math.Max(1, scaled) {
			break
		}
	}
	if dec >= 10 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// padRange widens [lo, hi] by 6% on each side (or around a single value) so that points do
// not sit on the frame.
func padRange(lo, hi float64) (float64, float64) {
	d := (hi - lo) * 0.06
	if d == 0 {
		d = math.Max(math.Abs(lo)*0.05, 1e-6)
	}
	return lo - d, hi + d
}

// svgChart draws one scatter chart with its Pareto front as inline SVG. Every point carries
// data-model, data-x, data-y and data-pareto attributes with the exact report.json values.
func svgChart(r *Report, c chartSpec) string {
	const W, H, left, right, top, bottom = 530.0, 360.0, 78.0, 16.0, 16.0, 52.0
	ms := r.Models
	xs, ys, es := make([]float64, len(ms)), make([]float64, len(ms)), make([]float64, len(ms))
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i := range ms {
		xs[i], ys[i] = c.x(&ms[i])/c.xScale, c.y(&ms[i])
		if c.yErr != nil {
			es[i] = c.yErr(&ms[i])
		}
		xmin, xmax = math.Min(xmin, xs[i]), math.Max(xmax, xs[i])
		ymin, ymax = math.Min(ymin, ys[i]-es[i]), math.Max(ymax, ys[i]+es[i])
	}
	x0, x1 := padRange(xmin, xmax)
	y0, y1 := padRange(ymin, ymax)
	xt, yt := niceTicks(x0, x1, 5), niceTicks(y0, y1, 5)
	px := func(v float64) float64 { return left + (v-x0)/(x1-x0)*(W-left-right) }
	logX := c.xLog && xmin > 0 && xmax/xmin > 3
	if logX {
		x0, x1 = xmin/1.15, xmax*1.15
		xt = logTicks(x0, x1)
		px = func(v float64) float64 { return left + math.Log(v/x0)/math.Log(x1/x0)*(W-left-right) }
	}
	py := func(v float64) float64 { return H - bottom - (v-y0)/(y1-y0)*(H-top-bottom) }
	// One variant far above the others (a broken quantization) would flatten them into a line:
	// past a factor of 3 the y axis is logarithmic too.
	logY := ymin > 0 && ymax/ymin > 3
	if logY {
		y0, y1 = ymin/1.15, ymax*1.15
		yt = logTicks(y0, y1)
		py = func(v float64) float64 {
			return H - bottom - math.Log(math.Max(v, y0)/y0)/math.Log(y1/y0)*(H-top-bottom)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="%s" data-chart="%s" data-x-metric="%s" data-y-metric="%s" data-y-log="%t" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-labelledby="%s-title">`+"\n",
		c.id, c.id, c.xMetric, c.yMetric, logY, W, H, W, H, c.id)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`+"\n", c.id, html.EscapeString(c.title))
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" class="plot"/>`+"\n", left, top, W-left-right, H-top-bottom)
	xstep, ystep := xt[min(1, len(xt)-1)]-xt[0], yt[min(1, len(yt)-1)]-yt[0]
	for _, v := range xt {
		if v < x0-1e-12 || v > x1+1e-12 {
			continue
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%g" x2="%.1f" y2="%g"/><text class="tick" x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n",
			px(v), top, px(v), H-bottom, px(v), H-bottom+16, axisTickLabel(v, xstep, logX))
	}
	for _, v := range yt {
		if v < y0-1e-12 || v > y1+1e-12 {
			continue
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%g" y1="%.1f" x2="%g" y2="%.1f"/><text class="tick" x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n",
			left, py(v), W-right, py(v), left-6, py(v)+4, axisTickLabel(v, ystep, logY))
	}
	fmt.Fprintf(&b, `<text class="axis-label" x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", left+(W-left-right)/2, H-12, html.EscapeString(c.xLabel))
	fmt.Fprintf(&b, `<text class="axis-label" transform="translate(16 %g) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+(H-top-bottom)/2, html.EscapeString(c.yLabel))
	// The Pareto front as a staircase through its points in order of x.
	var front []int
	for i := range ms {
		if c.front(&ms[i]) {
			front = append(front, i)
		}
	}
	sort.SliceStable(front, func(a, b int) bool { return xs[front[a]] < xs[front[b]] })
	if len(front) > 1 {
		var pts []string
		for k, i := range front {
			if k > 0 {
				prev := front[k-1]
				if c.higherXBetter {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[prev]), py(ys[i])))
				} else {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[i]), py(ys[prev])))
				}
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[i]), py(ys[i])))
		}
		fmt.Fprintf(&b, `<polyline class="front" data-front-size="%d" points="%s"/>`+"\n", len(front), strings.Join(pts, " "))
	}
	labels := placeLabels(ms, xs, ys, px, py, W-right, top, H-bottom)
	for i := range ms {
		m := &ms[i]
		cls := "point"
		if c.front(m) {
			cls += " pareto"
		}
		if m.IsBase {
			cls += " base"
		}
		name := html.EscapeString(m.Name)
		fmt.Fprintf(&b, `<g class="%s" data-model="%s" data-x="%s" data-y="%s" data-pareto="%t">`, cls, name, num(c.x(m)), num(c.y(m)), c.front(m))
		if es[i] > 0 {
			fmt.Fprintf(&b, `<line class="err" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, px(xs[i]), py(ys[i]-es[i]), px(xs[i]), py(ys[i]+es[i]))
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="5"><title>%s: %s %s, %s %s</title></circle>`, px(xs[i]), py(ys[i]), name,
			html.EscapeString(c.xLabel), strconv.FormatFloat(xs[i], 'g', 6, 64), html.EscapeString(c.yLabel), strconv.FormatFloat(ys[i], 'g', 6, 64))
		l := labels[i]
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%.1f" text-anchor="%s">%s</text></g>`+"\n", l.x, l.y, l.anchor, name)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

const reportCSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f3f3f3}td.name,th.name{text-align:left}tr.base td{background:#f7fbff}
.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}figcaption{font-weight:600;margin:.3em 0}
svg.chart{background:#fff;border:1px solid #ddd;max-width:100%;height:auto}
svg .plot{fill:#fcfcfc;stroke:#999}svg .grid{stroke:#e4e4e4}svg .tick{font-size:11px;fill:#555}
svg .axis-label{font-size:12px;fill:#333}svg .label{font-size:11px;fill:#333}
svg .point circle{fill:#9aa4ae;stroke:#fff;stroke-width:1.5}svg .pareto circle{fill:#d9480f}
svg .base circle{stroke:#1c7ed6;stroke-width:3}svg .err{stroke:#555;stroke-width:1.2}svg .front{fill:none;stroke:#d9480f;stroke-width:1.5;stroke-dasharray:5 3}
.legend span{margin-right:1.5em}.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:.3em;vertical-align:middle}`

// HTML returns report.html's content: a self-contained page (inline CSS and SVG, no scripts,
// no external resources) with the charts, the table of measurements, the tasks and the gates.
func (r *Report) HTML() []byte {
	var b strings.Builder
	esc := html.EscapeString
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<title>mcompress evaluation report</title>\n<style>" + reportCSS + "</style>\n</head>\n<body>\n<h1>mcompress evaluation report</h1>\n")
	fmt.Fprintf(&b, "<p>Base model: <code>%s</code>.", esc(r.Base))
	if d := r.Data; d != nil {
		mode := "llama.cpp chunks, second half of each chunk scored"
		if d.Stride > 0 {
			mode = fmt.Sprintf("sliding window, stride %d", d.Stride)
		}
		fmt.Fprintf(&b, " Text <code>%s</code>: %d tokens, n_ctx %d (%s), %d chunks, %d tokens scored.", esc(d.Path), d.Tokens, d.Context, esc(mode), d.Chunks, d.Scored)
	}
	b.WriteString("</p>\n")
	g := r.Gates
	if g.any() {
		lim := g.limits()
		if g.Passed {
			fmt.Fprintf(&b, "<p id=\"gates\" class=\"pass\" data-passed=\"true\">Quality gates passed (%s).</p>\n", esc(strings.Join(lim, ", ")))
		} else {
			fmt.Fprintf(&b, "<div id=\"gates\" data-passed=\"false\"><p class=\"fail\">Quality gates failed (%s):</p><ul>\n", esc(strings.Join(lim, ", ")))
			for _, f := range g.Failures {
				fmt.Fprintf(&b, "<li>%s</li>\n", esc(f))
			}
			b.WriteString("</ul></div>\n")
		}
	}
	if len(r.Recommendations) > 0 {
		b.WriteString("<h2>Recommendation</h2>\n<ul id=\"recommendations\">\n")
		for _, rec := range r.Recommendations {
			fmt.Fprintf(&b, "<li data-kind=\"%s\" data-limit=\"%s\" data-model=\"%s\"><b>%s</b>%s: %s</li>\n", rec.Kind, num(rec.Limit), esc(rec.Model),
				esc(recommendationTitle(rec, r.SpeedMetric)), defaultMark(rec.Default), esc(rec.Reason))
		}
		b.WriteString("</ul>\n")
	}
	if cs := r.charts(); len(cs) > 0 {
		b.WriteString("<h2>Quality against cost</h2>\n<p class=\"legend\"><span><i class=\"dot\" style=\"background:#d9480f\"></i>on the Pareto front (dashed line)</span><span><i class=\"dot\" style=\"background:#9aa4ae\"></i>dominated</span><span><i class=\"dot\" style=\"background:#fff;border:3px solid #1c7ed6;width:6px;height:6px\"></i>base</span></p>\n<div class=\"charts\">\n")
		for _, c := range cs {
			fmt.Fprintf(&b, "<figure><figcaption>%s</figcaption>\n%s</figure>\n", esc(c.title), svgChart(r, c))
		}
		b.WriteString("</div>\n")
	}
	if note := r.latencyNote(); note != "" {
		b.WriteString("<p id=\"latency-device\">" + esc(note) + "</p>\n")
	}
	b.WriteString("<h2>Measurements</h2>\n<table id=\"models\">\n<thead><tr><th class=\"name\">model</th><th>size (MiB)</th><th>bits/weight</th><th>PPL</th><th>ΔPPL</th><th>mean KLD</th><th>99% KLD</th><th>same top p</th><th>prompt tok/s</th><th>gen tok/s</th><th>memory (MiB)</th></tr></thead>\n<tbody>\n")
	for _, m := range r.Models {
		cls, name := "", esc(m.Name)
		if m.IsBase {
			cls, name = ` class="base"`, name+" (base)"
		}
		cells := []string{fmt.Sprintf("%.2f", float64(m.Size.FileBytes)/(1<<20)), fmt.Sprintf("%.3f", m.Size.BitsPerWeight), "–", "–", "–", "–", "–", "–", "–",
			fmt.Sprintf("%.1f", float64(m.PeakMemoryBytes)/(1<<20))}
		if p := m.Perplexity; p != nil {
			cells[2] = fmt.Sprintf("%.4f ± %.4f", p.PPL, p.Uncertainty)
			if !m.IsBase {
				cells[3] = fmt.Sprintf("%+.2f%%", 100*m.PPLIncrease)
			}
		}
		if k := m.KLD; k != nil {
			cells[4] = fmt.Sprintf("%.6f ± %.6f", k.MeanKLD, k.MeanKLDUncertainty)
			cells[5] = fmt.Sprintf("%.6f", k.KLD.P99)
			cells[6] = fmt.Sprintf("%.3f%%", 100*k.SameTopP)
		}
		if l := m.Latency; l != nil {
			cells[7], cells[8] = speedCell(l.PromptTokensPerSecond, l.PromptSpread), speedCell(l.GenTokensPerSecond, l.GenSpread)
		}
		fmt.Fprintf(&b, "<tr%s data-model=\"%s\"><td class=\"name\">%s</td><td>%s</td></tr>\n", cls, esc(m.Name), name, strings.Join(cells, "</td><td>"))
	}
	b.WriteString("</tbody></table>\n")
	if r.speedUnstable() {
		fmt.Fprintf(&b, "<p class=\"fail\" id=\"speed-warning\">⚠ Speeds marked ⚠ varied by more than %.0f%% between runs (busy machine?): do not rank by them; rerun on an idle machine.</p>\n", 100*speedSpreadLimit)
	}
	b.WriteString("<h2>What each file holds</h2>\n<table id=\"types\"><thead><tr><th class=\"name\">model</th><th class=\"name\">made from</th><th class=\"name\">tensor types (share of weights, of bytes, tensors)</th></tr></thead><tbody>\n")
	for _, m := range r.Models {
		fmt.Fprintf(&b, "<tr><td class=\"name\">%s</td><td class=\"name lineage\">%s</td><td class=\"name\">%s</td></tr>\n", esc(m.Name), esc(lineageText(m.Lineage)), esc(m.Size.TypesSummary()))
	}
	b.WriteString("</tbody></table>\n")
	if r.hasTasks() {
		b.WriteString("<h2>Tasks</h2>\n<table id=\"tasks\"><thead><tr><th class=\"name\">model</th><th class=\"name\">task</th><th>examples</th><th>acc</th><th>acc_norm</th></tr></thead><tbody>\n")
		for _, m := range r.Models {
			for _, t := range m.Tasks {
				fmt.Fprintf(&b, "<tr><td class=\"name\">%s</td><td class=\"name\">%s</td><td>%d</td><td>%.4f ± %.4f</td><td>%.4f ± %.4f</td></tr>\n", esc(m.Name), esc(t.Name), t.Examples, t.Acc, t.AccStderr, t.AccNorm, t.AccNormStderr)
			}
		}
		b.WriteString("</tbody></table>\n")
	}
	b.WriteString("<p><small>PPL ± is llama.cpp's uncertainty (standard error of the mean log-likelihood, scaled by PPL). KLD is KL(base ‖ model) per token in nats. Produced by mcompress eval; see docs/EVAL.md.</small></p>\n</body>\n</html>\n")
	return []byte(b.String())
}

// logTicks returns the 1-2-5 values in [lo, hi] for a logarithmic axis.
func logTicks(lo, hi float64) []float64 {
	var ticks []float64
	for k := math.Floor(math.Log10(lo)); k <= math.Ceil(math.Log10(hi)); k++ {
		for _, m := range []float64{1, 2, 5} {
			if v := m * math.Pow(10, k); v >= lo && v <= hi {
				ticks = append(ticks, v)
			}
		}
	}
	return ticks
}

// axisTickLabel labels a tick: shortest form on a log axis, else by the step.
func axisTickLabel(v, step float64, logAxis bool) string {
	if logAxis {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return tickLabel(v, step)
}

// label is where a point's name is drawn.
type label struct {
	x, y   float64
	anchor string
}

// placeLabels puts each point's name beside it, trying a few positions so that names do not
// overlap each other (text width estimated at 6.2 px per character of 11 px type).
func placeLabels(ms []ModelReport, xs, ys []float64, px, py func(float64) float64, rightEdge, topEdge, bottomEdge float64) []label {
	type box struct{ x0, y0, x1, y1 float64 }
	var placed []box
	out := make([]label, len(ms))
	order := make([]int, len(ms))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return py(ys[order[a]]) < py(ys[order[b]]) })
	for _, i := range order {
		cx, cy := px(xs[i]), py(ys[i])
		w := 6.2 * float64(len([]rune(ms[i].Name)))
		best, bestOverlap := label{}, math.Inf(1)
		for _, dy := range []float64{-7, 15, -19, 27, -31, 39, -43} {
			for _, right := range []bool{true, false} {
				l := label{x: cx + 8, y: cy + dy, anchor: "start"}
				bx := box{l.x, l.y - 10, l.x + w, l.y + 2}
				if !right || cx+8+w > rightEdge {
					l = label{x: cx - 8, y: cy + dy, anchor: "end"}
					bx = box{l.x - w, l.y - 10, l.x, l.y + 2}
				}
				var overlap float64
				if bx.y0 < topEdge || bx.y1 > bottomEdge {
					overlap = 1e6 // outside the plot: only if nothing else fits
				}
				for _, p := range placed {
					ox := math.Min(bx.x1, p.x1) - math.Max(bx.x0, p.x0)
					oy := math.Min(bx.y1, p.y1) - math.Max(bx.y0, p.y0)
					if ox > 0 && oy > 0 {
						overlap += ox * oy
					}
				}
				if overlap < bestOverlap {
					best, bestOverlap = l, overlap
				}
				if overlap == 0 {
					break
				}
			}
			if bestOverlap == 0 {
				break
			}
		}
		out[i] = best
		w2 := 6.2 * float64(len([]rune(ms[i].Name)))
		if best.anchor == "start" {
			placed = append(placed, box{best.x, best.y - 10, best.x + w2, best.y + 2})
		} else {
			placed = append(placed, box{best.x - w2, best.y - 10, best.x, best.y + 2})
		}
	}
	return out
}

// speedCell formats a median speed with its spread over the repeats, marked ⚠ when too large
// to rank.
func speedCell(median, spread float64) string {
	c := fmt.Sprintf("%.1f", median)
	if spread > 0 {
		c += fmt.Sprintf(" ±%.0f%%", 100*spread/2)
	}
	if spread > speedSpreadLimit {
		c += " ⚠"
	}
	return c
}

// lineageText shows an unknown lineage as a dash.
func lineageText(l string) string {
	if l == "" {
		return "–"
	}
	return l
}

// defaultMark notes a budget the report chose itself.
func defaultMark(def bool) string {
	if def {
		return " (default)"
	}
	return ""
}

// recommendationTitle names a recommendation's budget: "File ≤ 50.00 MB", "Speed ≥ 120.0 tok/s".
func recommendationTitle(rec Recommendation, speedMetric string) string {
	if rec.Kind == "size" {
		return fmt.Sprintf("File ≤ %.2f MB", rec.Limit/1e6)
	}
	what := "generation"
	if speedMetric != "gen_tokens_per_second" {
		what = "perplexity evaluation"
	}
	return fmt.Sprintf("Speed ≥ %.1f tok/s (%s)", rec.Limit, what)
}
