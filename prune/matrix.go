package prune

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadInput marks errors caused by the caller's input (a sparsity outside [0, 1), a pattern
// that does not divide the row length, statistics of the wrong size), as opposed to internal
// failures.
var ErrBadInput = errors.New("bad input")

// Matrix is a linear layer's weights in GGUF row order: Rows output features, each a row of
// Cols input features, stored row-major in Data.
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// Row returns row r of m.
func (m Matrix) Row(r int) []float32 { return m.Data[r*m.Cols : (r+1)*m.Cols] }

func (m Matrix) check() error {
	if m.Rows <= 0 || m.Cols <= 0 || len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("%w: matrix %d×%d holds %d values", ErrBadInput, m.Rows, m.Cols, len(m.Data))
	}
	return nil
}

// Pattern is an N:M sparsity pattern: in every group of M consecutive weights of a row (along
// the input dimension), at most N are nonzero. The zero Pattern means unstructured sparsity.
type Pattern struct {
	N, M int
}

// IsZero reports whether p is the zero Pattern (unstructured).
func (p Pattern) IsZero() bool { return p.M == 0 }

// Sparsity returns the fraction of weights the pattern removes, (M−N)/M.
func (p Pattern) Sparsity() float64 {
	if p.IsZero() {
		return 0
	}
	return float64(p.M-p.N) / float64(p.M)
}

// String formats p as "N:M" ("" for the zero Pattern).
func (p Pattern) String() string {
	if p.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d:%d", p.N, p.M)
}

// ParsePattern parses "N:M" (such as "2:4" or "4:8"); the empty string gives the zero Pattern.
func ParsePattern(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, nil
	}
	a, b, ok := strings.Cut(s, ":")
	n, err1 := strconv.Atoi(a)
	m, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 0 || m <= 0 || n >= m || m > 1024 {
		return Pattern{}, fmt.Errorf("%w: pattern %q: want N:M with 0 ≤ N < M, such as 2:4", ErrBadInput, s)
	}
	return Pattern{N: n, M: m}, nil
}

// Options say how much of a layer to remove.
type Options struct {
	// Sparsity is the fraction of weights to set to zero, in [0, 1). With a Pattern it must be
	// zero or the pattern's own sparsity.
	Sparsity float64
	// Pattern, when not zero, removes M−N of every M consecutive weights of each row.
	Pattern Pattern
	// BlockSize is SparseGPT's column block (128 when zero); with a Pattern it must be a
	// multiple of M.
	BlockSize int
	// Damp is SparseGPT's dampening, a fraction of the mean diagonal of XᵀX added to the
	// diagonal (0.01 when zero).
	Damp float64
}

func (o Options) withDefaults() Options {
	if o.BlockSize == 0 {
		o.BlockSize = 128
	}
	if o.Damp == 0 {
		o.Damp = 0.01
	}
	return o
}

// Validate checks the options against a layer with cols input features.
func (o Options) Validate(cols int) error {
	if o.Sparsity < 0 || o.Sparsity >= 1 || o.Sparsity != o.Sparsity {
		return fmt.Errorf("%w: sparsity %g outside [0, 1)", ErrBadInput, o.Sparsity)
	}
	if !o.Pattern.IsZero() {
		if cols%o.Pattern.M != 0 {
			return fmt.Errorf("%w: pattern %s does not divide the row length %d", ErrBadInput, o.Pattern, cols)
		}
		if o.Sparsity != 0 && o.Sparsity != o.Pattern.Sparsity() {
			return fmt.Errorf("%w: sparsity %g contradicts pattern %s (which removes %g)", ErrBadInput, o.Sparsity, o.Pattern, o.Pattern.Sparsity())
		}
		if o.BlockSize%o.Pattern.M != 0 {
			return fmt.Errorf("%w: block size %d is not a multiple of the pattern's M %d", ErrBadInput, o.BlockSize, o.Pattern.M)
		}
	}
	if o.BlockSize < 0 || o.Damp < 0 {
		return fmt.Errorf("%w: negative block size or dampening", ErrBadInput)
	}
	return nil
}

// removeCount is how many of n weights a sparsity s removes: the nearest integer to n·s.
func removeCount(n int, s float64) int {
	k := int(float64(n)*s + 0.5)
	return min(max(k, 0), n)
}
