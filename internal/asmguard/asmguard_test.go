package asmguard

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string // Instr of each finding
	}{
		{"no VEX: SSE alone is fine", `
TEXT ·f(SB), NOSPLIT, $0-8
	MOVSS  a+0(FP), X0
	SHUFPS $0x00, X0, X0
	PXOR   X1, X1
	RET`, nil},
		{"MOVQ GP to X between VEX", `
TEXT ·f(SB), NOSPLIT, $0-8
	VXORPS X0, X0, X0
loop:
	MOVQ SI, X1
	VCVTPH2PS X1, X1
	JMP loop
	VZEROUPPER
	RET`, []string{"MOVQ SI, X1"}},
		{"Y register makes a non-V mnemonic VEX", `
TEXT ·f(SB), NOSPLIT, $0-8
	VPADDD Y0, Y1, Y1
	MOVSS X0, (DI)
	RET`, []string{"MOVSS X0, (DI)"}},
		{"EVEX suffix and Z registers", `
TEXT ·f(SB), NOSPLIT, $0-8
	VPDPBUSD.BCST (AX), Z1, Z2
	CVTSI2SSL AX, X3
	RET`, []string{"CVTSI2SSL AX, X3"}},
		{"store after VZEROUPPER is clean", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y0, Y1, Y0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+8(FP)
	RET`, nil},
		{"VEX after VZEROUPPER dirties again", `
TEXT ·f(SB), NOSPLIT, $0-8
	VZEROUPPER
	VADDPS Y0, Y1, Y0
	MOVSS X0, ret+8(FP)
	RET`, []string{"MOVSS X0, ret+8(FP)"}},
		{"SSE before the first VEX may run after it in a loop", `
TEXT ·f(SB), NOSPLIT, $0-8
	MOVSS a+0(FP), X0
	VBROADCASTSS X0, Y0
	VZEROUPPER
	RET`, []string{"MOVSS a+0(FP), X0"}},
		{"VEX forms, GP moves, comments and labels are fine", `
TEXT ·f(SB), NOSPLIT, $0-8
	MOVQ w+0(FP), AX // MOVQ SI, X1 in a comment
	VMOVQ SI, X1
	VMOVSS X1, (AX); ADDQ $4, AX
done: RET`, nil},
		{"functions are checked apart", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y0, Y1, Y0
	VZEROUPPER
	RET
TEXT ·g(SB), NOSPLIT, $0-8
	MOVUPS (SI), X0
	MULPS X0, X0
	RET`, nil},
		{"X registers above 15 count", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Z16, Z17, Z16
	MOVQ AX, X17
	RET`, []string{"MOVQ AX, X17"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range Check(tc.src) {
				got = append(got, f.Instr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCheckOldQ8_0Kernel proves the guard catches the instruction behind issue 11, in the
// kernel as it was generated.
func TestCheckOldQ8_0Kernel(t *testing.T) {
	got, err := CheckFile(filepath.Join("testdata", "dotQ8_0c_old.s"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Instr != "MOVQ SI, X1" || got[0].Func != "·dotQ8_0cAVX2(SB)" {
		t.Fatalf("findings %v, want the one MOVQ SI, X1 in ·dotQ8_0cAVX2(SB)", got)
	}
	if !strings.HasPrefix(got[0].String(), "line ") {
		t.Errorf("String() = %q", got[0].String())
	}
}

// TestModuleAssembly runs the guard on every assembly file of the module (testdata aside):
// generated kernels and hand-written ones alike.
func TestModuleAssembly(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".s") {
			return nil
		}
		n++
		found, err := CheckFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, f := range found {
			t.Errorf("%s: %v: legacy SSE after VEX; use the VEX form or put a VZEROUPPER before it", rel, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no .s files under %s", root)
	}
}

// moduleRoot returns the folder holding go.mod, searching up from the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fs.ErrNotExist
		}
		dir = up
	}
}
