// Package eval measures what compression cost: perplexity with llama.cpp's chunking (or a
// sliding window), KL-divergence against a base model, multiple-choice tasks scored the way
// lm-evaluation-harness scores them, file size, bits per weight and speed; and it writes
// reports (report.json, report.md and a self-contained report.html with SVG charts) that
// compare several variants of a model, with quality gates for CI.
//
// It also computes importance matrices (Imatrix) in llama.cpp's GGUF imatrix format, from the
// squared activations entering every weight matrix of the forward pass.
//
// Everything runs on package runtime. Results do not depend on the number of threads: each
// chunk is evaluated by one Session and the statistics are combined in chunk order.
//
// See docs/EVAL.md for the definitions of the metrics, the KL-divergence base file format, the
// task layouts and the report.
package eval
