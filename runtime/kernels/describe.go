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
		k, ok := kernels[t]
		if ok && reflect.ValueOf(k.dot).Pointer() != reflect.ValueOf(k.dotGo).Pointer() {
			asm = append(asm, t.String())
		}
	}
	if len(asm) == 0 {
		return simdName
	}
	return fmt.Sprintf("%s (assembly dot products for %s)", simdName, strings.Join(asm, ", "))
}
