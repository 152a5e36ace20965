// Package autograd is the reverse-mode automatic differentiation engine that distill trains
// Llama-family models with (llama, mistral, qwen2, qwen3).
//
// # Tensors and the tape
//
// A [Tensor] is row-major data with a shape. Parameters are tensors with RequiresGrad set
// (see [NewParam] and [Params]). Every operation takes a [Tape] as its first argument: the tape
// records each operation whose inputs need a gradient, in order (a Wengert list), and
// [Tape.Backward] walks that list backwards, accumulating d loss / d x into the Grad of every
// tensor that requires one. Parameter gradients accumulate across Backward calls until
// [Params.ZeroGrad]; gradients of intermediate tensors are released as soon as they have been
// propagated. A tape in NoGrad mode records nothing (inference and validation).
//
// Shape errors never panic: an operation given bad shapes or bad indices records the error in
// the tape and returns nil; every later operation on that tape is skipped, and [Tape.Err] and
// [Tape.Backward] report the first error. Check Err (or the error of Backward) once per step.
// All shape and attribute rules live in one table (registry.go).
//
// The tape owns the buffers of the tensors it creates and reuses them after [Tape.Reset], so a
// training step allocates almost nothing once warm. Read what you need (the loss value,
// logits) before calling Reset: Reset clears the Data of every tensor the tape created.
//
// # Element types
//
// Every tensor, tape and operation is generic over [Float] (float32 or float64). Training runs
// in float32; the gradient tests run the same operation code in float64 and compare it with
// central finite differences (gonum's diff/fd), then check that float32 agrees with float64.
// Only the innermost float32 kernels differ between the two: the GEMM micro-kernel and the
// vectorised exponential have SIMD versions (AVX-512, AVX2) that are tested against their
// portable twins. Row reductions (norms, losses, log-sum-exp) accumulate in float64, except
// that the float32 vector exponential sums its lanes in float32.
//
// # Operations
//
// Linear algebra: [MatMul] (transposes of either operand, batched, weights shared across a
// batch). Elementwise: [Add], [Mul] (NumPy broadcasting), [AddBias], [Scale], [SiLU], [SwiGLU].
// Layers: [Embedding], [RMSNorm], [RoPE], [Attention] (fused causal grouped-query attention with
// a flash-attention style backward), [Reshape]. Losses and reductions: [LogSoftmax],
// [CrossEntropy], [KLDiv], [Sum], [Mean].
//
// # Performance and determinism
//
// Matrix products go through one blocked, packed GEMM (gemm.go) whose micro-kernel is the one
// place a SIMD kernel plugs in. Large kernels run on [Tape.Threads] goroutines (default
// GOMAXPROCS); work is split so that every output element is computed by exactly one goroutine
// in a fixed order, and partial sums are combined in a fixed order, so results are bit-identical
// whatever the thread count.
package autograd
