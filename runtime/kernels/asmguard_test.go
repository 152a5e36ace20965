package kernels

import (
	"testing"

	"github.com/mcompress/mcompress/internal/asmguard"
)

// TestGeneratedAssemblyNoSSEAfterVEX guards the generated kernels against legacy-SSE
// instructions in VEX code (avo's MOVQ GP, X and MOVSS, for instance): on Intel cores each one
// costs an SSE/AVX transition, which once made the Q8_0 and Q4_0 dot products ten times slower
// (issue 11). The generator must use the VEX forms (VMOVQ, VMOVSS) or a VZEROUPPER first.
func TestGeneratedAssemblyNoSSEAfterVEX(t *testing.T) {
	found, err := asmguard.CheckFile("kernels_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("kernels_amd64.s %v: legacy SSE after VEX; emit the VEX form in ./asm", f)
	}
}
