// Package asmguard checks Go amd64 assembly for legacy-SSE instructions mixed into code that
// uses VEX or EVEX vector instructions.
//
// On Intel cores a legacy (non-VEX) SSE instruction that runs while the upper halves of the
// YMM/ZMM registers are dirty costs a state transition or a false dependency on every
// execution: one MOVQ SI, X1 inside the Q8_0 dot product's 256-bit loop made token
// generation ten times slower than llama.cpp (issue 11). The VEX form of the same instruction
// (VMOVQ, VMOVSS, ...) costs nothing extra, and a VZEROUPPER cleans the upper halves before
// legacy code.
//
// The check reads the text of one assembly file, function by function (TEXT to the next TEXT),
// in text order, without following jumps. In a function that uses VEX or EVEX (a V-prefixed
// mnemonic other than VZEROUPPER, or a Y or Z register), a legacy SSE instruction (a mnemonic
// without the V prefix that names an X register) is reported unless a VZEROUPPER precedes it
// with no VEX instruction in between. Legacy code before a function's first VEX instruction is
// reported too: in a loop it may run after the VEX code below it.
package asmguard

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Finding is one legacy-SSE instruction in a function that uses VEX or EVEX.
type Finding struct {
	Func  string // the TEXT symbol, e.g. ·dotQ8_0cAVX2(SB)
	Line  int    // 1-based line in the source
	Instr string // the instruction as written, spaces collapsed
}

// String formats the finding as "line N: func: instruction".
func (f Finding) String() string {
	return fmt.Sprintf("line %d: %s: %s", f.Line, f.Func, f.Instr)
}

var (
	xmmReg  = regexp.MustCompile(`\bX([0-9]|[12][0-9]|3[01])\b`)
	wideReg = regexp.MustCompile(`\b[YZ]([0-9]|[12][0-9]|3[01])\b`)
	label   = regexp.MustCompile(`^[A-Za-z_.·][A-Za-z0-9_.·<>]*:`)
)

// Check returns the legacy-SSE instructions of src that may run with dirty upper vector
// state, in source order; nil when there are none.
func Check(src string) []Finding {
	var out []Finding
	fn := "" // current TEXT symbol
	usesVEX := false
	var pending []Finding // legacy instructions of fn not yet known to be clean
	clean := false        // a VZEROUPPER precedes with no VEX since
	flush := func() {
		if usesVEX {
			out = append(out, pending...)
		}
		pending, usesVEX, clean = nil, false, false
	}
	for i, line := range strings.Split(src, "\n") {
		if c := strings.Index(line, "//"); c >= 0 {
			line = line[:c]
		}
		for _, stmt := range strings.Split(line, ";") {
			stmt = strings.TrimSpace(stmt)
			for {
				loc := label.FindStringIndex(stmt)
				if loc == nil {
					break
				}
				stmt = strings.TrimSpace(stmt[loc[1]:])
			}
			if stmt == "" || strings.HasPrefix(stmt, "#") {
				continue
			}
			fields := strings.Fields(stmt)
			mnem, ops := fields[0], strings.Join(fields[1:], " ")
			if mnem == "TEXT" {
				flush()
				fn = strings.TrimSuffix(strings.Fields(ops + " ")[0], ",")
				continue
			}
			if fn == "" || mnem == "DATA" || mnem == "GLOBL" {
				continue
			}
			base, _, _ := strings.Cut(mnem, ".") // VPDPBUSD.BCST, VMOVUPS.Z
			switch {
			case base == "VZEROUPPER" || base == "VZEROALL":
				clean = true
			case strings.HasPrefix(base, "V") || wideReg.MatchString(ops):
				usesVEX, clean = true, false
			case xmmReg.MatchString(ops) && !clean:
				pending = append(pending, Finding{Func: fn, Line: i + 1, Instr: mnem + " " + ops})
			}
		}
	}
	flush()
	return out
}

// CheckFile runs Check on the assembly file at path.
func CheckFile(path string) ([]Finding, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("asmguard: %w", err)
	}
	return Check(string(b)), nil
}
