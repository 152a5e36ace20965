package runtime

import (
	"math"

	"github.com/mcompress/mcompress/convert"
)

// RoPEFrequencies are the rotary-embedding frequencies of a model, following ggml's rope:
// pair i turns by pos·base^(−2i/dims), divided by the pair's llama3 factor, scaled by 1/factor
// for linear scaling and blended per pair with the unscaled angle for YaRN. The runtime and
// distill (whose trainable model must rotate exactly as the runtime does) both derive theirs
// here.
type RoPEFrequencies struct {
	// Inv is the angle per position of each of the RopeDim/2 pairs, times Scale unless the
	// model uses YaRN (whose blend depends on the pair: see YaRNMix).
	Inv []float64
	// YaRNMix is YaRN's weight of the unscaled angle for each pair; nil without YaRN.
	YaRNMix []float64
	// Scale is the interpolation factor (1/factor for linear and YaRN scaling, else 1).
	Scale float64
	// MScale is YaRN's magnitude correction of cos and sin (1 without YaRN).
	MScale float64
}

// NewRoPEFrequencies returns cfg's RoPE frequencies; factors are the per-pair frequency
// divisors of llama3-style scaling (GGUF rope_freqs.weight) or LongRoPE (rope_factors_long or
// _short), nil if none (a zero divisor is ignored). LongRoPE also scales cos and sin by
// RopeScaling.AttnFactor.
func NewRoPEFrequencies(cfg convert.Config, factors []float32) RoPEFrequencies {
	r := RoPEFrequencies{MScale: 1, Scale: 1}
	half := cfg.RopeDim / 2
	r.Inv = make([]float64, half)
	if cfg.RopeScaling.Factor > 0 && (cfg.RopeScaling.Type == "linear" || cfg.RopeScaling.Type == "yarn") {
		r.Scale = 1 / cfg.RopeScaling.Factor
	}
	for i := range half {
		f := math.Pow(cfg.RopeTheta, -2*float64(i)/float64(cfg.RopeDim))
		if i < len(factors) && factors[i] != 0 {
			f /= float64(factors[i])
		}
		r.Inv[i] = f
	}
	if cfg.RopeScaling.Type == "yarn" && r.Scale != 1 {
		// ggml's rope_yarn with ext_factor 1, beta_fast 32, beta_slow 1.
		nCtx := float64(cfg.RopeScaling.OriginalContext)
		if nCtx <= 0 {
			nCtx = float64(cfg.ContextLength)
		}
		corr := func(nRot float64) float64 {
			return float64(cfg.RopeDim) * math.Log(nCtx/(nRot*2*math.Pi)) / (2 * math.Log(cfg.RopeTheta))
		}
		lo := max(0, math.Floor(corr(32)))
		hi := min(float64(cfg.RopeDim-1), math.Ceil(corr(1)))
		r.YaRNMix = make([]float64, half)
		for i := range half {
			y := (float64(i) - lo) / max(0.001, hi-lo)
			r.YaRNMix[i] = 1 - min(1, max(0, y))
		}
		r.MScale = 1 + 0.1*math.Log(1/r.Scale)
	} else {
		for i := range r.Inv {
			r.Inv[i] *= r.Scale
		}
	}
	if cfg.RopeScaling.Type == "longrope" && cfg.RopeScaling.AttnFactor > 0 {
		r.MScale = cfg.RopeScaling.AttnFactor // LongRoPE's magnitude correction
	}
	return r
}

// angle returns pair i's angle at position p as the runtime computes it: the position times
// the pair's frequency, blended for YaRN after that product.
func (r *RoPEFrequencies) angle(i int, p float64) float64 {
	theta := p * r.Inv[i]
	if r.YaRNMix != nil {
		theta = theta*r.Scale*(1-r.YaRNMix[i]) + theta*r.YaRNMix[i]
	}
	return theta
}

// PerPosition returns every pair's angle per position with YaRN's blend folded in, so that
// pair i at position p turns by p·PerPosition()[i]: the form distill's RoPE op takes. Without
// YaRN it equals Inv; with YaRN it can differ from the runtime's angle in the last bit,
// because the blend is applied before rather than after the product with the position.
func (r *RoPEFrequencies) PerPosition() []float64 {
	inv := append([]float64(nil), r.Inv...)
	if r.YaRNMix == nil {
		return inv
	}
	for i, mix := range r.YaRNMix {
		inv[i] = inv[i]*r.Scale*(1-mix) + inv[i]*mix
	}
	return inv
}
