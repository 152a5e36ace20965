package eval

import (
	"fmt"
	"sort"
)

// Budgets are the limits the report's recommendation answers: for each, the best variant that
// fits. Empty lists get defaults (see Report.recommend).
type Budgets struct {
	// SizeBytes are file-size budgets in bytes.
	SizeBytes []int64 `json:"size_bytes,omitempty"`
	// SpeedFloors are the slowest acceptable speeds, in the report's SpeedMetric (tokens/s).
	SpeedFloors []float64 `json:"speed_floors,omitempty"`
}

// Recommendation is the best variant under one budget.
type Recommendation struct {
	// Kind is "size" (file size at most Limit bytes) or "speed" (speed at least Limit).
	Kind  string  `json:"kind"`
	Limit float64 `json:"limit"`
	// Default tells that the budget was not given but chosen by the report (a fraction or a
	// multiple of the base's).
	Default bool `json:"default,omitempty"`
	// Model is the recommended variant's name, "" when none fits.
	Model string `json:"model,omitempty"`
	// Reason says why, in one line.
	Reason string `json:"reason"`
}

// speedSpreadLimit is the largest relative spread ((max-min)/median over the repeats) at which
// speeds are ranked without a warning.
const speedSpreadLimit = 0.10

// quality orders models for the recommendation: the lower the better. It is the perplexity
// when measured, else minus the mean task accuracy.
func (r *Report) quality(m *ModelReport) (float64, string) {
	if r.hasPPL() && m.Perplexity != nil {
		return m.Perplexity.PPL, fmt.Sprintf("perplexity %.4f", m.Perplexity.PPL)
	}
	if len(m.Tasks) > 0 {
		var acc float64
		for _, t := range m.Tasks {
			acc += t.Acc
		}
		acc /= float64(len(m.Tasks))
		return -acc, fmt.Sprintf("mean task accuracy %.1f%%", 100*acc)
	}
	return 0, "no quality measured"
}

// recommend fills r.Recommendations: under each size budget and speed floor, the variant of
// best quality (lowest perplexity, else highest mean task accuracy; the smaller file on a tie)
// among those that pass the gates. Without budgets it uses half and a quarter of the base's
// file size, and twice and four times the base's speed.
func (r *Report) recommend() {
	r.Recommendations = nil
	if len(r.Models) == 0 {
		return
	}
	base := &r.Models[0]
	sizes, floors := r.Budgets.SizeBytes, r.Budgets.SpeedFloors
	defSize, defSpeed := len(sizes) == 0, len(floors) == 0
	if defSize && base.Size != nil {
		sizes = []int64{base.Size.FileBytes / 2, base.Size.FileBytes / 4}
	}
	if defSpeed && base.Speed > 0 {
		floors = []float64{2 * base.Speed, 4 * base.Speed}
	}
	order := make([]int, len(r.Models))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ma, mb := &r.Models[order[a]], &r.Models[order[b]]
		qa, _ := r.quality(ma)
		qb, _ := r.quality(mb)
		if qa != qb {
			return qa < qb
		}
		return ma.Size.FileBytes < mb.Size.FileBytes
	})
	pick := func(kind string, limit float64, def bool, fits func(*ModelReport) bool, what func(*ModelReport) string) {
		rec := Recommendation{Kind: kind, Limit: limit, Default: def}
		gated := 0
		for _, i := range order {
			m := &r.Models[i]
			if !fits(m) {
				continue
			}
			if len(m.GateFailures) > 0 {
				gated++
				continue
			}
			_, q := r.quality(m)
			rec.Model = m.Name
			rec.Reason = fmt.Sprintf("%s: the best %s of the variants with %s (%s)", m.Name, q, limitText(kind, limit, r.SpeedMetric), what(m))
			break
		}
		if rec.Model == "" {
			rec.Reason = "no variant has " + limitText(kind, limit, r.SpeedMetric)
			if gated > 0 {
				rec.Reason += fmt.Sprintf(" and passes the gates (%d fail them)", gated)
			}
		}
		if kind == "speed" && r.speedUnstable() {
			rec.Reason += "; speeds varied too much between runs to rank reliably"
		}
		r.Recommendations = append(r.Recommendations, rec)
	}
	for _, b := range sizes {
		pick("size", float64(b), defSize, func(m *ModelReport) bool { return m.Size != nil && m.Size.FileBytes <= b },
			func(m *ModelReport) string { return fmt.Sprintf("%.2f MB", float64(m.Size.FileBytes)/1e6) })
	}
	for _, f := range floors {
		pick("speed", f, defSpeed, func(m *ModelReport) bool { return m.Speed >= f },
			func(m *ModelReport) string { return fmt.Sprintf("%.1f tokens/s", m.Speed) })
	}
}

// limitText words a budget: "a file of at most 50.00 MB", "a speed of at least 120.0
// generated tokens/s".
func limitText(kind string, limit float64, speedMetric string) string {
	if kind == "size" {
		return fmt.Sprintf("a file of at most %.2f MB", limit/1e6)
	}
	unit := "tokens/s of perplexity evaluation"
	if speedMetric == "gen_tokens_per_second" {
		unit = "generated tokens/s"
	}
	return fmt.Sprintf("a speed of at least %.1f %s", limit, unit)
}

// speedUnstable reports whether any model's speed spread exceeds speedSpreadLimit.
func (r *Report) speedUnstable() bool {
	for _, m := range r.Models {
		if m.SpeedUnstable {
			return true
		}
	}
	return false
}
