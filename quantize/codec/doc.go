// Package codec holds the ggml block formats: one file per type (q4_0.go, q4_k.go, iq4_xs.go,
// float.go, ...), each a Codec that knows its block geometry, quantizes rows with the
// reference algorithms of ggml's ggml-quants.c (the weighted scale searches of the K-quants,
// the importance-matrix variants) and dequantizes blocks exactly as ggml does. All codecs are
// registered in one table keyed by ggml type id; see Lookup.
//
// It is the one home of the block layouts: package quantize builds its mixes and pipeline on
// it, and runtime/kernels takes block geometry and dequantization from it and keeps only the
// dot products. So that both can use it, it imports nothing of mcompress but convert/dtype (the
// scalar F16/BF16 conversions, itself a leaf); in particular not the GGUF format, so type ids
// are plain ggml numbers (any ~uint32 type, such as gguf.TensorType, which names them).
package codec
