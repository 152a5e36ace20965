package eval

import (
	"math"
	"sort"
)

// meanAndUncertainty returns the mean of n values given their sum and sum of squares, and the
// standard error of that mean (sqrt(var/(n-1))), as llama-perplexity's mean_and_uncertainty
// computes it: 0 when the variance is not positive or n <= 10.
func meanAndUncertainty(sum, sum2 float64, n int) (mean, unc float64) {
	if n < 1 {
		return 0, 0
	}
	mean = sum / float64(n)
	v := sum2/float64(n) - mean*mean
	if v > 0 && n > 10 {
		unc = math.Sqrt(v / float64(n-1))
	}
	return mean, unc
}

// covariance returns the covariance of the means of two series (llama-perplexity's
// covariance): 0 for fewer than 10 values.
func covariance(suma, sumb, sumab float64, n int) float64 {
	if n < 10 {
		return 0
	}
	c := sumab/float64(n) - (suma/float64(n))*(sumb/float64(n))
	return c / float64(n-1)
}

// percentile interpolates linearly between the sorted values around fraction*(n-1), as
// llama-perplexity's percentile does (in float32 there; float64 here).
func percentile(sorted []float32, fraction float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	if fraction <= 0 {
		return float64(sorted[0])
	}
	if fraction >= 1 {
		return float64(sorted[len(sorted)-1])
	}
	p := fraction * float64(len(sorted)-1)
	ip := int(p)
	p -= float64(ip)
	return (1-p)*float64(sorted[ip]) + p*float64(sorted[min(ip+1, len(sorted)-1)])
}

// median returns the middle value (the mean of the two middle ones for an even count).
func median(sorted []float32) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return 0
	case n%2 == 0:
		return 0.5 * (float64(sorted[n/2]) + float64(sorted[n/2-1]))
	}
	return float64(sorted[n/2])
}

// Distribution summarizes a set of per-token values: extremes, median and percentiles.
type Distribution struct {
	Min    float64 `json:"min"`
	P0_1   float64 `json:"p0_1"`
	P1     float64 `json:"p1"`
	P5     float64 `json:"p5"`
	P10    float64 `json:"p10"`
	P25    float64 `json:"p25"`
	Median float64 `json:"median"`
	P75    float64 `json:"p75"`
	P90    float64 `json:"p90"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
	P99_9  float64 `json:"p99_9"`
	Max    float64 `json:"max"`
}

// distribution sorts values in place and summarizes them.
func distribution(values []float32) Distribution {
	sort.Slice(values, func(i, j int) bool { return values[i] < values[j] })
	if len(values) == 0 {
		return Distribution{}
	}
	return Distribution{
		Min: float64(values[0]), P0_1: percentile(values, 0.001), P1: percentile(values, 0.01),
		P5: percentile(values, 0.05), P10: percentile(values, 0.10), P25: percentile(values, 0.25),
		Median: median(values), P75: percentile(values, 0.75), P90: percentile(values, 0.90),
		P95: percentile(values, 0.95), P99: percentile(values, 0.99), P99_9: percentile(values, 0.999),
		Max: float64(values[len(values)-1]),
	}
}

// sampleStderr returns the standard error of the mean of xs: the sample standard deviation
// (n-1 in the denominator) divided by sqrt(n), as lm-evaluation-harness's mean_stderr.
func sampleStderr(xs []float64) float64 {
	n := len(xs)
	if n < 2 {
		return 0
	}
	var mu float64
	for _, x := range xs {
		mu += x
	}
	mu /= float64(n)
	var ss float64
	for _, x := range xs {
		ss += (x - mu) * (x - mu)
	}
	return math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
}

// sortedStrings returns s sorted (for stable error messages).
func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}
