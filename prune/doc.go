// Package prune removes weights from a model's linear layers: unstructured and N:M sparsity
// by magnitude, Wanda (Sun et al., 2023) or SparseGPT (Frantar and Alistarh, 2023).
//
// The functions here work on plain data: a weight matrix in GGUF row order (one row per output
// feature, one column per input feature) and the calibration statistics of its input (squared
// column norms for Wanda, the Gram matrix XᵀX for SparseGPT), so they can be tested against the
// papers' formulas on small random layers and fed by any collector.
//
// Every selection breaks ties by index, so the same inputs give the same mask on every machine
// and for any thread count.
package prune
