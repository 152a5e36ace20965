package kernels

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// Describe says in one line which kernel set is in use, for `mcompress version` and bug
// reports: the instruction set (as SIMD returns it), why the pure-Go kernels run when they do,
// and which weight types have an assembly dot product.
func Describe() string {
	switch {
	case simdName == "":
		return "purego (no assembly kernels for this CPU or build; -tags purego)"
	case UsePureGo:
		return fmt.Sprintf("purego (forced by MCOMPRESS_PUREGO; %s available)", simdName)
	}
	var asm []string
	for _, t := range gguf.AllTypes() {
		if hasAssembly(t) {
			asm = append(asm, t.String())
		}
	}
	if len(asm) == 0 {
		return simdName
	}
	return fmt.Sprintf("%s (assembly dot products for %s)", simdName, strings.Join(asm, ", "))
}

// hasAssembly reports whether type t's one-token dot product is an assembly kernel rather than
// its pure-Go twin.
func hasAssembly(t gguf.TensorType) bool {
	k, ok := kernels[t]
	return ok && reflect.ValueOf(k.dot).Pointer() != reflect.ValueOf(k.dotGo).Pointer()
}

// KernelSet returns the kernel set that multiplies weights of type t: SIMD() when t has an
// assembly dot product in use, else "purego" (types whose SIMD kernels are still to be written
// run on their pure-Go twins whatever the CPU).
func KernelSet(t gguf.TensorType) string {
	if s := SIMD(); s != "purego" && hasAssembly(t) {
		return s
	}
	return "purego"
}
