package surgery

import (
	"reflect"
	"strings"
	"testing"
)

// m23 is the matrix [[0 1 2] [10 11 12]].
func m23() Tensor { return Tensor{Shape: []int{2, 3}, Data: []float32{0, 1, 2, 10, 11, 12}} }

func TestSliceRowsCols(t *testing.T) {
	vec := Tensor{Shape: []int{4}, Data: []float32{5, 6, 7, 8}}
	for _, c := range []struct {
		name string
		f    func(Tensor, []int) (Tensor, error)
		in   Tensor
		keep []int
		want Tensor
		err  string
	}{
		{"rows", SliceRows, m23(), []int{1}, Tensor{Shape: []int{1, 3}, Data: []float32{10, 11, 12}}, ""},
		{"rows reordered", SliceRows, m23(), []int{1, 0}, Tensor{Shape: []int{2, 3}, Data: []float32{10, 11, 12, 0, 1, 2}}, ""},
		{"vector", SliceRows, vec, []int{0, 3}, Tensor{Shape: []int{2}, Data: []float32{5, 8}}, ""},
		{"no rows", SliceRows, m23(), nil, Tensor{Shape: []int{0, 3}, Data: []float32{}}, ""},
		{"cols", SliceCols, m23(), []int{0, 2}, Tensor{Shape: []int{2, 2}, Data: []float32{0, 2, 10, 12}}, ""},
		{"row out of range", SliceRows, m23(), []int{2}, Tensor{}, "row 2 out of range"},
		{"row twice", SliceRows, m23(), []int{0, 0}, Tensor{}, "row 0 kept twice"},
		{"col out of range", SliceCols, m23(), []int{-1}, Tensor{}, "column -1 out of range"},
		{"cols of a vector", SliceCols, vec, []int{0}, Tensor{}, "columns of a 1-D"},
		{"3-D", SliceRows, Tensor{Shape: []int{1, 1, 1}, Data: []float32{1}}, []int{0}, Tensor{}, "3-D"},
		{"shape and data disagree", SliceRows, Tensor{Shape: []int{2, 2}, Data: []float32{1}}, []int{0}, Tensor{}, "does not hold"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.f(c.in, c.keep)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
	// The input is not aliased.
	in := m23()
	out, _ := SliceRows(in, []int{0, 1})
	out.Data[0] = 99
	if in.Data[0] != 0 {
		t.Errorf("SliceRows aliases its input")
	}
}

func TestCopyLeading(t *testing.T) {
	for _, c := range []struct {
		name string
		dst  Tensor
		src  Tensor
		want []float32
		err  bool
	}{
		{"matrix block", Tensor{Shape: []int{1, 2}, Data: make([]float32, 2)}, m23(), []float32{0, 1}, false},
		{"whole", Tensor{Shape: []int{2, 3}, Data: make([]float32, 6)}, m23(), []float32{0, 1, 2, 10, 11, 12}, false},
		{"vector", Tensor{Shape: []int{2}, Data: make([]float32, 2)}, Tensor{Shape: []int{3}, Data: []float32{4, 5, 6}}, []float32{4, 5}, false},
		{"wider", Tensor{Shape: []int{1, 4}, Data: make([]float32, 4)}, m23(), []float32{0, 0, 0, 0}, true},
		{"rank", Tensor{Shape: []int{2}, Data: make([]float32, 2)}, m23(), []float32{0, 0}, true},
	} {
		err := CopyLeading(c.dst, c.src)
		if (err != nil) != c.err || !reflect.DeepEqual(c.dst.Data, c.want) {
			t.Errorf("%s: %v, data %v; want %v", c.name, err, c.dst.Data, c.want)
		}
	}
	if !Fits([]int{1, 3}, []int{2, 3}) || Fits([]int{3}, []int{2, 3}) || Fits([]int{2, 4}, []int{2, 3}) {
		t.Errorf("Fits")
	}
}
