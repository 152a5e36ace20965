package autograd

// elemChunk is the number of elements per task of elementwise kernels: large enough that the
// goroutine hand-off is negligible.
const elemChunk = 1 << 14

// rowChunk returns a chunk size in rows so that each task covers about elemChunk elements.
func rowChunk(cols int) int {
	return max(1, elemChunk/max(cols, 1))
}
