package eval

import (
	"fmt"
	"strings"
)

// Markdown returns report.md's content: the data, a table of every model's size, quality and
// speed, the tasks, and the gates.
func (r *Report) Markdown() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Evaluation report\n\n")
	fmt.Fprintf(&b, "Base model: `%s`\n\n", r.Base)
	if d := r.Data; d != nil {
		mode := "llama.cpp chunks (second half of each chunk scored)"
		if d.Stride > 0 {
			mode = fmt.Sprintf("sliding window, stride %d", d.Stride)
		}
		fmt.Fprintf(&b, "Text: `%s`, %d tokens; n_ctx %d, %s; %d chunks, %d tokens scored.\n\n", d.Path, d.Tokens, d.Context, mode, d.Chunks, d.Scored)
	}
	if note := r.latencyNote(); note != "" {
		b.WriteString(note + "\n\n")
	}
	if len(r.Recommendations) > 0 {
		b.WriteString("## Recommendation\n\n")
		for _, rec := range r.Recommendations {
			fmt.Fprintf(&b, "- **%s**%s: %s\n", recommendationTitle(rec, r.SpeedMetric), defaultMark(rec.Default), mdEscape(rec.Reason))
		}
		b.WriteString("\n")
	}
	b.WriteString("| model | size (MiB) | bits/weight | PPL | ΔPPL | mean KLD | 99% KLD | same top p | prompt tok/s | gen tok/s | memory (MiB) | Pareto |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, m := range r.Models {
		name := m.Name
		if m.IsBase {
			name += " (base)"
		}
		ppl, dppl, kld, k99, top := "–", "–", "–", "–", "–"
		if p := m.Perplexity; p != nil {
			ppl = fmt.Sprintf("%.4f ± %.4f", p.PPL, p.Uncertainty)
			if !m.IsBase {
				dppl = fmt.Sprintf("%+.2f%%", 100*m.PPLIncrease)
			}
		}
		if k := m.KLD; k != nil {
			kld = fmt.Sprintf("%.6f ± %.6f", k.MeanKLD, k.MeanKLDUncertainty)
			k99 = fmt.Sprintf("%.6f", k.KLD.P99)
			top = fmt.Sprintf("%.3f%%", 100*k.SameTopP)
		}
		pp, gen := "–", "–"
		if l := m.Latency; l != nil {
			pp, gen = speedCell(l.PromptTokensPerSecond, l.PromptSpread), speedCell(l.GenTokensPerSecond, l.GenSpread)
		}
		var fronts []string
		if m.Pareto.PPLSize {
			fronts = append(fronts, "size")
		}
		if m.Pareto.PPLSpeed {
			fronts = append(fronts, "speed")
		}
		fmt.Fprintf(&b, "| %s | %.2f | %.3f | %s | %s | %s | %s | %s | %s | %s | %.1f | %s |\n", mdEscape(name),
			float64(m.Size.FileBytes)/(1<<20), m.Size.BitsPerWeight, ppl, dppl, kld, k99, top, pp, gen, float64(m.PeakMemoryBytes)/(1<<20), strings.Join(fronts, ", "))
	}
	b.WriteString("\nPareto: on the front of perplexity against file size (\"size\") or against ")
	b.WriteString(speedLabel(r.SpeedMetric) + " (\"speed\").\n")
	if r.speedUnstable() {
		fmt.Fprintf(&b, "\n⚠ Speeds marked ⚠ varied by more than %.0f%% between runs: do not rank by them.\n", 100*speedSpreadLimit)
	}
	b.WriteString("\n## What each file holds\n\n| model | made from | tensor types (share of weights, of bytes, tensors) |\n|---|---|---|\n")
	for _, m := range r.Models {
		if m.Size != nil {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", mdEscape(m.Name), mdEscape(lineageText(m.Lineage)), mdEscape(m.Size.TypesSummary()))
		}
	}
	if r.hasTasks() {
		b.WriteString("\n## Tasks\n\n| model | task | examples | acc | acc_norm |\n|---|---|---:|---:|---:|\n")
		for _, m := range r.Models {
			for _, t := range m.Tasks {
				fmt.Fprintf(&b, "| %s | %s | %d | %.4f ± %.4f | %.4f ± %.4f |\n", mdEscape(m.Name), mdEscape(t.Name), t.Examples, t.Acc, t.AccStderr, t.AccNorm, t.AccNormStderr)
			}
		}
	}
	b.WriteString("\n## Gates\n\n")
	g := r.Gates
	if !g.any() {
		b.WriteString("No gates were set.\n")
	} else {
		for _, l := range g.limits() {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		if g.Passed {
			b.WriteString("\n**Passed.**\n")
		} else {
			b.WriteString("\n**Failed:**\n\n")
			for _, f := range g.Failures {
				fmt.Fprintf(&b, "- %s\n", mdEscape(f))
			}
		}
	}
	return []byte(b.String())
}

// mdEscape keeps table cells intact.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// speedLabel names a speed metric for people.
func speedLabel(metric string) string {
	if metric == "gen_tokens_per_second" {
		return "generation speed (tokens/s)"
	}
	return "perplexity evaluation speed (tokens/s)"
}
