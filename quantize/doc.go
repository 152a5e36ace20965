// Package quantize turns F32/F16/BF16 GGUF models into the quantized GGUF files llama.cpp
// writes, byte for byte.
//
// It has three layers:
//
//   - Codecs: package quantize/codec, one file per ggml block type (q4_0.go, q4_k.go,
//     iq4_xs.go, ...). Each is a Codec that knows its block geometry, quantizes rows with the
//     reference algorithms of ggml's ggml-quants.c (the weighted scale searches of the
//     K-quants, the importance-matrix variants) and dequantizes blocks exactly as ggml does.
//     All codecs are registered in one table; Lookup, Quantize and Dequantize here take
//     gguf.TensorType. The runtime's kernels use the same table for geometry and
//     dequantization.
//   - Mixes: llama.cpp's file types (Q4_K_M, Q3_K_S, IQ4_XS, ...) with llama-quantize's
//     per-tensor rules (mix.go): which tensors are quantized at all and to which type.
//   - The pipeline (Run): streams tensors from a Source (a memory-mapped GGUF today; any
//     producer of name, shape, dtype and bytes), quantizes each tensor with its rows split
//     across goroutines, and writes the output in llama-quantize's tensor order. The output
//     does not depend on the number of threads.
//
// Importance matrices (imatrix.go) are read in both formats llama-imatrix writes: GGUF
// (`<name>.in_sum2` and `<name>.counts` tensors) and the legacy binary `.dat` format.
package quantize
