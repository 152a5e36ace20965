package codec

// quantLevels computes the levels of one candidate scale with SSE2 (part of every amd64 CPU);
// see quantLevelsGo for the definition. The operations are IEEE single-precision multiply, max,
// min and add, as in Go, so the results are identical.
//
//go:noescape
func quantLevels(L *[32]uint8, x *[32]float32, iscale, lo, hi float32)
