package autograd

import (
	"fmt"
	"math"
)

// Float is the element type of tensors: float32 for training, float64 for gradient checks.
type Float interface {
	float32 | float64
}

// maxElements bounds the number of elements of one tensor (2^40, or what int holds on 32-bit
// platforms), so shape products cannot overflow.
const maxElements int64 = min(1<<40, math.MaxInt)

// Tensor is a row-major array of T with a shape. The last dimension varies fastest.
//
// Data holds the values (len(Data) == product of Shape). Grad, when not nil, holds d loss /
// d Data with the same layout; it is allocated by [Tape.Backward] for tensors that require a
// gradient. A scalar has an empty Shape and one element.
type Tensor[T Float] struct {
	// Shape is the size of each dimension. Do not modify it after the tensor is used by a tape.
	Shape []int
	// Data holds the values, row-major.
	Data []T
	// Grad accumulates d loss / d Data (nil until a backward pass reaches the tensor).
	Grad []T
	// RequiresGrad marks a leaf tensor (a parameter) whose gradient Backward must compute.
	// Tensors created by a recording tape from such inputs have it set too.
	RequiresGrad bool
	// Name is optional; Params uses it as the parameter's key. Errors quote it.
	Name string

	tape     *Tape[T] // the tape that created the tensor; nil for leaves
	node     int      // 1 + index of the producing node in tape.nodes; 0 when not recorded
	gradSlot int      // 1 + index of Grad in tape.live when Grad came from the tape's pool
}

// NewTensor returns a tensor of the given shape holding data (not copied). A nil data allocates
// zeros. It returns an error when a dimension is negative or len(data) does not match the shape.
func NewTensor[T Float](data []T, shape ...int) (*Tensor[T], error) {
	n, err := numelOf(shape)
	if err != nil {
		return nil, fmt.Errorf("autograd: NewTensor: %w", err)
	}
	if data == nil {
		data = make([]T, n)
	}
	if len(data) != n {
		return nil, fmt.Errorf("autograd: NewTensor: shape %v holds %d elements, data has %d", shape, n, len(data))
	}
	return &Tensor[T]{Shape: append([]int(nil), shape...), Data: data}, nil
}

// NewParam returns a named tensor with RequiresGrad set: a trainable parameter. A nil data
// allocates zeros.
func NewParam[T Float](name string, data []T, shape ...int) (*Tensor[T], error) {
	t, err := NewTensor(data, shape...)
	if err != nil {
		return nil, fmt.Errorf("autograd: parameter %q: %w", name, err)
	}
	t.Name = name
	t.RequiresGrad = true
	return t, nil
}

// Numel returns the number of elements (the product of the shape).
func (t *Tensor[T]) Numel() int { return len(t.Data) }

// Item returns the first element as float64, the value of a scalar such as a loss (0 for an
// empty tensor).
func (t *Tensor[T]) Item() float64 {
	if t == nil || len(t.Data) == 0 {
		return 0
	}
	return float64(t.Data[0])
}

// ZeroGrad sets every element of Grad to zero (keeping the allocation).
func (t *Tensor[T]) ZeroGrad() { clear(t.Grad) }

// String describes the tensor by name and shape.
func (t *Tensor[T]) String() string {
	if t == nil {
		return "<nil tensor>"
	}
	if t.Name != "" {
		return fmt.Sprintf("%q%v", t.Name, t.Shape)
	}
	return fmt.Sprintf("%v", t.Shape)
}

// numelOf returns the number of elements of a shape, or an error for a negative dimension or a
// product above maxElements.
func numelOf(shape []int) (int, error) {
	n := int64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v: dimension %d is negative", shape, i)
		}
		if d != 0 && n > maxElements/int64(d) {
			return 0, fmt.Errorf("shape %v: more than %d elements", shape, maxElements)
		}
		n *= int64(d)
	}
	return int(n), nil
}

// isF32 reports whether T is float32. The compiler folds it per instantiation.
func isF32[T Float]() bool {
	var z T
	_, ok := any(z).(float32)
	return ok
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
