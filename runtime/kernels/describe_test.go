package kernels

import (
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestKernelSet checks that a type without an assembly dot product is reported as pure Go even
// on a SIMD machine (bench --kernels holds only assembly kernels to the memory-read floor), and
// that a type with one reports the instruction set in use.
func TestKernelSet(t *testing.T) {
	if got := KernelSet(gguf.TypeIQ2_XXS); got != "purego" {
		t.Errorf("KernelSet(IQ2_XXS) = %q, want purego (it has no assembly kernel)", got)
	}
	want := "purego"
	if hasAssembly(gguf.TypeQ8_0) {
		want = SIMD()
	}
	if got := KernelSet(gguf.TypeQ8_0); got != want {
		t.Errorf("KernelSet(Q8_0) = %q, want %q", got, want)
	}
	prev := UsePureGo
	UsePureGo = true
	defer func() { UsePureGo = prev }()
	if got := KernelSet(gguf.TypeQ8_0); got != "purego" {
		t.Errorf("KernelSet(Q8_0) with MCOMPRESS_PUREGO = %q, want purego", got)
	}
}
