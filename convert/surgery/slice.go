package surgery

import (
	"fmt"
	"slices"
)

// Tensor is a dense float32 tensor in row-major (PyTorch) order: Shape is [out, in] for a
// matrix, [n] for a vector (norm weights, biases).
type Tensor struct {
	Shape []int
	Data  []float32
}

// check reports a tensor whose data does not match its shape.
func (t Tensor) check() error {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("surgery: shape %v has a negative dimension", t.Shape)
		}
		n *= d
	}
	if len(t.Shape) == 0 || n != len(t.Data) {
		return fmt.Errorf("surgery: shape %v does not hold %d values", t.Shape, len(t.Data))
	}
	return nil
}

// checkKeep reports an index out of [0, n) or given twice.
func checkKeep(keep []int, n int, what string) error {
	seen := make([]bool, n)
	for _, k := range keep {
		if k < 0 || k >= n {
			return fmt.Errorf("surgery: %s %d out of range (%d)", what, k, n)
		}
		if seen[k] {
			return fmt.Errorf("surgery: %s %d kept twice", what, k)
		}
		seen[k] = true
	}
	return nil
}

// SliceRows returns a new tensor holding the rows of t listed in keep, in keep's order (for a
// vector, its elements). It is how a pruner drops output channels: query/key/value heads
// (with HeadRows), MLP channels of ffn_gate/ffn_up, hidden channels of attn_output/ffn_down.
func SliceRows(t Tensor, keep []int) (Tensor, error) {
	if err := t.check(); err != nil {
		return Tensor{}, err
	}
	if len(t.Shape) > 2 {
		return Tensor{}, fmt.Errorf("surgery: cannot slice a %d-D tensor", len(t.Shape))
	}
	if err := checkKeep(keep, t.Shape[0], "row"); err != nil {
		return Tensor{}, err
	}
	cols := 1
	if len(t.Shape) == 2 {
		cols = t.Shape[1]
	}
	out := Tensor{Shape: slices.Clone(t.Shape), Data: make([]float32, 0, len(keep)*cols)}
	out.Shape[0] = len(keep)
	for _, r := range keep {
		out.Data = append(out.Data, t.Data[r*cols:(r+1)*cols]...)
	}
	return out, nil
}

// SliceCols returns a new matrix holding the columns of t listed in keep, in keep's order. It
// is how a pruner drops input channels: hidden channels of every projection and of the
// embeddings, MLP channels of ffn_down, query heads of attn_output (with HeadRows).
func SliceCols(t Tensor, keep []int) (Tensor, error) {
	if err := t.check(); err != nil {
		return Tensor{}, err
	}
	if len(t.Shape) != 2 {
		return Tensor{}, fmt.Errorf("surgery: cannot slice the columns of a %d-D tensor", len(t.Shape))
	}
	rows, cols := t.Shape[0], t.Shape[1]
	if err := checkKeep(keep, cols, "column"); err != nil {
		return Tensor{}, err
	}
	out := Tensor{Shape: []int{rows, len(keep)}, Data: make([]float32, 0, rows*len(keep))}
	for r := range rows {
		row := t.Data[r*cols : (r+1)*cols]
		for _, c := range keep {
			out.Data = append(out.Data, row[c])
		}
	}
	return out, nil
}

// Fits reports whether a tensor of shape small is a leading block of one of shape big: the
// same rank and no dimension larger.
func Fits(small, big []int) bool {
	if len(small) != len(big) {
		return false
	}
	for i := range small {
		if small[i] > big[i] {
			return false
		}
	}
	return true
}

// CopyLeading fills dst (a vector or a matrix) with the leading block of src: its first
// elements, or its first rows and first columns. It fails, writing nothing, when dst does not
// fit in src (see Fits).
func CopyLeading(dst, src Tensor) error {
	if err := dst.check(); err != nil {
		return err
	}
	if err := src.check(); err != nil {
		return err
	}
	if len(dst.Shape) > 2 || !Fits(dst.Shape, src.Shape) {
		return fmt.Errorf("surgery: shape %v is not a leading block of %v", dst.Shape, src.Shape)
	}
	if len(dst.Shape) == 1 {
		copy(dst.Data, src.Data[:dst.Shape[0]])
		return nil
	}
	rows, cols, scols := dst.Shape[0], dst.Shape[1], src.Shape[1]
	for r := range rows {
		copy(dst.Data[r*cols:(r+1)*cols], src.Data[r*scols:r*scols+cols])
	}
	return nil
}
