//go:build !amd64 || purego

package autograd

// simdKernels lists the SIMD kernels this CPU can run: none in this build.
func simdKernels() []gemmKernel[float32] { return nil }

// expShiftSIMD returns the vector exponential for this CPU: none in this build.
func expShiftSIMD() func(dst, src []float32, scale, shift float32) float32 { return nil }
