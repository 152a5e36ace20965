package eval

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Report is the outcome of Run: one entry per model, the base first. It is what report.json
// holds.
type Report struct {
	// Tool names the producer.
	Tool string `json:"tool"`
	// Data describes the evaluation text; nil when none was given.
	Data *DataInfo `json:"data,omitempty"`
	// Base is the path of the reference model (Models[0]).
	Base string `json:"base"`
	// SpeedMetric names the speed used on the charts and Pareto fronts:
	// "gen_tokens_per_second" (latency) or "ppl_tokens_per_second" (when latency was skipped).
	SpeedMetric string        `json:"speed_metric"`
	Models      []ModelReport `json:"models"`
	Gates       GateReport    `json:"gates"`
	// Budgets are the size budgets and speed floors the recommendation answers (the defaults
	// when none were given are in Recommendations, marked default).
	Budgets Budgets `json:"budgets"`
	// Recommendations name the best variant under each budget, with the reason.
	Recommendations []Recommendation `json:"recommendations"`

	vocab int
}

// DataInfo describes the evaluation text and how it was cut.
type DataInfo struct {
	Path    string `json:"path"`
	Tokens  int    `json:"tokens"`
	Context int    `json:"n_ctx"`
	Stride  int    `json:"stride,omitempty"`
	Chunks  int    `json:"chunks"`
	Scored  int    `json:"scored_tokens"`
}

// ModelReport holds every measurement of one model.
type ModelReport struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	IsBase bool   `json:"is_base"`
	// Lineage says what the model was made from and how ("base.gguf → prune 2:4 → Q4_K_M"), as
	// the caller gave it; "" when unknown.
	Lineage string `json:"lineage,omitempty"`
	Size    *Size  `json:"size"`
	// Perplexity on the evaluation text (nil without one).
	Perplexity *PerplexityResult `json:"perplexity,omitempty"`
	// PPLIncrease is PPL/PPL(base) - 1 (0 for the base).
	PPLIncrease float64 `json:"ppl_increase"`
	// KLD against the base (nil for the base, or without KL-divergence).
	KLD     *KLDResult `json:"kld,omitempty"`
	Latency *Latency   `json:"latency,omitempty"`
	// PeakMemoryBytes estimates the memory of inference with the latency measurement's
	// context (default 160 positions): the tensors (mapped from the file) plus one runtime
	// session's KV cache and activations (runtime.SessionBytes). An estimate from sizes, not a
	// measurement of the process.
	PeakMemoryBytes int64        `json:"peak_memory_bytes"`
	Tasks           []TaskResult `json:"tasks,omitempty"`
	// Speed is the value of the report's SpeedMetric for this model (a median over repeats
	// for latency).
	Speed float64 `json:"speed"`
	// SpeedSpread is the relative spread of Speed over the repeats, (max-min)/median; 0 when
	// not repeated. SpeedUnstable tells that it exceeds 10%, too much to rank by speed.
	SpeedSpread   float64 `json:"speed_spread"`
	SpeedUnstable bool    `json:"speed_unstable,omitempty"`
	// Pareto tells on which fronts the model lies: perplexity against size and against speed,
	// and mean KLD against size.
	Pareto Pareto `json:"pareto"`
	// GateFailures explains each gate this model fails.
	GateFailures []string `json:"gate_failures,omitempty"`
}

// Pareto flags membership of the Pareto fronts (no other model is at least as good on both
// axes and better on one).
type Pareto struct {
	PPLSize  bool `json:"ppl_vs_size"`
	PPLSpeed bool `json:"ppl_vs_speed"`
	KLDSize  bool `json:"kld_vs_size"`
}

// GateReport records the gates and their outcome.
type GateReport struct {
	Gates
	Passed   bool     `json:"passed"`
	Failures []string `json:"failures,omitempty"`
}

// GateError returns an error naming every model that fails a gate, or nil.
func (r *Report) GateError() error {
	if r.Gates.Passed {
		return nil
	}
	return fmt.Errorf("quality gate failed: %s", strings.Join(r.Gates.Failures, "; "))
}

// hasPPL reports whether perplexity was measured.
func (r *Report) hasPPL() bool { return len(r.Models) > 0 && r.Models[0].Perplexity != nil }

// hasKLD reports whether KL-divergence was measured.
func (r *Report) hasKLD() bool {
	for _, m := range r.Models {
		if m.KLD != nil {
			return true
		}
	}
	return false
}

// hasTasks reports whether any model was scored on tasks.
func (r *Report) hasTasks() bool {
	for _, m := range r.Models {
		if len(m.Tasks) > 0 {
			return true
		}
	}
	return false
}

// kld returns a model's mean KLD (0 for the base).
func (m *ModelReport) kld() float64 {
	if m.KLD == nil {
		return 0
	}
	return m.KLD.MeanKLD
}

// finish computes the derived fields: speed, PPL increase, Pareto fronts and gates.
func (r *Report) finish() {
	r.SpeedMetric = "gen_tokens_per_second"
	for _, m := range r.Models {
		if m.Latency == nil {
			r.SpeedMetric = "ppl_tokens_per_second"
		}
	}
	for i := range r.Models {
		m := &r.Models[i]
		m.SpeedSpread = 0
		if r.SpeedMetric == "gen_tokens_per_second" {
			m.Speed, m.SpeedSpread = m.Latency.GenTokensPerSecond, m.Latency.GenSpread
		} else if m.Perplexity != nil {
			m.Speed = m.Perplexity.TokensPerSecond
		}
		m.SpeedUnstable = m.SpeedSpread > speedSpreadLimit
		if r.hasPPL() && m.Perplexity != nil {
			m.PPLIncrease = m.Perplexity.PPL/r.Models[0].Perplexity.PPL - 1
		}
	}
	if r.hasPPL() {
		size := func(m *ModelReport) float64 { return float64(m.Size.FileBytes) }
		ppl := func(m *ModelReport) float64 { return m.Perplexity.PPL }
		negSpeed := func(m *ModelReport) float64 { return -m.Speed }
		for i, on := range paretoFront(r.Models, size, ppl) {
			r.Models[i].Pareto.PPLSize = on
		}
		for i, on := range paretoFront(r.Models, negSpeed, ppl) {
			r.Models[i].Pareto.PPLSpeed = on
		}
		if r.hasKLD() {
			for i, on := range paretoFront(r.Models, size, (*ModelReport).kld) {
				r.Models[i].Pareto.KLDSize = on
			}
		}
	}
	r.Gates.Passed, r.Gates.Failures = true, nil
	g := r.Gates.Gates
	for i := range r.Models {
		m := &r.Models[i]
		m.GateFailures = nil
		if m.IsBase {
			continue
		}
		if g.MaxPPLIncrease > 0 && m.Perplexity != nil && m.PPLIncrease > g.MaxPPLIncrease {
			m.GateFailures = append(m.GateFailures, fmt.Sprintf("%s: perplexity %.4f is %.2f%% above the base's %.4f (limit %.2f%%)",
				m.Name, m.Perplexity.PPL, 100*m.PPLIncrease, r.Models[0].Perplexity.PPL, 100*g.MaxPPLIncrease))
		}
		if g.MaxKLD > 0 && m.KLD != nil && m.KLD.MeanKLD > g.MaxKLD {
			m.GateFailures = append(m.GateFailures, fmt.Sprintf("%s: mean KL-divergence %.6f exceeds the limit %g", m.Name, m.KLD.MeanKLD, g.MaxKLD))
		}
		if g.MinAccuracy > 0 {
			for _, t := range m.Tasks {
				if t.Acc < g.MinAccuracy {
					m.GateFailures = append(m.GateFailures, fmt.Sprintf("%s: accuracy %.2f%% on task %s is below the limit %.2f%%", m.Name, 100*t.Acc, t.Name, 100*g.MinAccuracy))
				}
			}
		}
		if g.MaxSizeBytes > 0 && m.Size != nil && m.Size.FileBytes > g.MaxSizeBytes {
			m.GateFailures = append(m.GateFailures, fmt.Sprintf("%s: file of %d bytes exceeds the limit of %d", m.Name, m.Size.FileBytes, g.MaxSizeBytes))
		}
		if len(m.GateFailures) > 0 {
			r.Gates.Passed = false
			r.Gates.Failures = append(r.Gates.Failures, m.GateFailures...)
		}
	}
	r.recommend()
}

// paretoFront marks the models not dominated when both cost(x) and loss(y) are to be
// minimised: j dominates i when it is no worse on both and better on one.
func paretoFront(ms []ModelReport, x, y func(*ModelReport) float64) []bool {
	on := make([]bool, len(ms))
	for i := range ms {
		on[i] = true
		xi, yi := x(&ms[i]), y(&ms[i])
		for j := range ms {
			xj, yj := x(&ms[j]), y(&ms[j])
			if j != i && xj <= xi && yj <= yi && (xj < xi || yj < yi) {
				on[i] = false
				break
			}
		}
	}
	return on
}

// JSON returns report.json's content.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("eval: encoding the report: %w", err)
	}
	return append(b, '\n'), nil
}
