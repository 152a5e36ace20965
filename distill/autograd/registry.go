package autograd

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// opKind identifies an operation in the registry.
type opKind uint8

// The operations. Each has its forward and backward in op_<name>.go beside op_<name>_test.go,
// and one row in registry below.
const (
	opInvalid opKind = iota
	opMatMul
	opAdd
	opMul
	opAddBias
	opScale
	opSum
	opMean
	opReshape
	opEmbedding
	opRMSNorm
	opRoPE
	opAttention
	opSiLU
	opSwiGLU
	opLogSoftmax
	opCrossEntropy
	opKLDiv
	numOpKinds
)

// opSpec is the metadata of one operation: its name, its tensor inputs, which of them receive
// gradients, and the rule that validates input shapes and attributes and returns the output
// shape. Shape rules return errors; they never panic.
type opSpec struct {
	name   string
	inputs []string // names of the tensor inputs, in order
	grads  []bool   // grads[i]: the backward pass produces d loss / d input i
	check  func(in [][]int, attr any) ([]int, error)
}

// registry is the one table of operations: every operation validates its inputs through
// tape.validate, which looks its rule up here, and records itself with tape.record, which reads
// grads here to decide whether the node is needed.
var registry = [numOpKinds]opSpec{
	opMatMul:       {name: "MatMul", inputs: []string{"a", "b"}, grads: []bool{true, true}, check: checkMatMul},
	opAdd:          {name: "Add", inputs: []string{"a", "b"}, grads: []bool{true, true}, check: checkBroadcast},
	opMul:          {name: "Mul", inputs: []string{"a", "b"}, grads: []bool{true, true}, check: checkBroadcast},
	opAddBias:      {name: "AddBias", inputs: []string{"x", "bias"}, grads: []bool{true, true}, check: checkLastDimVector},
	opScale:        {name: "Scale", inputs: []string{"x"}, grads: []bool{true}, check: checkScale},
	opSum:          {name: "Sum", inputs: []string{"x"}, grads: []bool{true}, check: checkReduce},
	opMean:         {name: "Mean", inputs: []string{"x"}, grads: []bool{true}, check: checkReduce},
	opReshape:      {name: "Reshape", inputs: []string{"x"}, grads: []bool{true}, check: checkReshape},
	opEmbedding:    {name: "Embedding", inputs: []string{"table"}, grads: []bool{true}, check: checkEmbedding},
	opRMSNorm:      {name: "RMSNorm", inputs: []string{"x", "weight"}, grads: []bool{true, true}, check: checkRMSNorm},
	opRoPE:         {name: "RoPE", inputs: []string{"x"}, grads: []bool{true}, check: checkRoPE},
	opAttention:    {name: "Attention", inputs: []string{"q", "k", "v"}, grads: []bool{true, true, true}, check: checkAttention},
	opSiLU:         {name: "SiLU", inputs: []string{"x"}, grads: []bool{true}, check: checkAny},
	opSwiGLU:       {name: "SwiGLU", inputs: []string{"gate", "up"}, grads: []bool{true, true}, check: checkSameShape},
	opLogSoftmax:   {name: "LogSoftmax", inputs: []string{"x"}, grads: []bool{true}, check: checkRows},
	opCrossEntropy: {name: "CrossEntropy", inputs: []string{"logits"}, grads: []bool{true}, check: checkCrossEntropy},
	opKLDiv:        {name: "KLDiv", inputs: []string{"student", "teacher"}, grads: []bool{true, false}, check: checkKLDiv},
}

// String returns the operation's name.
func (k opKind) String() string {
	if k > opInvalid && k < numOpKinds {
		return registry[k].name
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// validate checks the tape's state and the inputs of an operation against its registry rule.
// It returns the output shape, or records an error naming the operation and returns false.
func (tp *Tape[T]) validate(kind opKind, attr any, in ...*Tensor[T]) ([]int, bool) {
	if tp.err != nil {
		return nil, false
	}
	spec := &registry[kind]
	shapes := make([][]int, len(in))
	for i, t := range in {
		if t == nil {
			return nil, tp.fail(fmt.Errorf("autograd: %s: input %s is nil", spec.name, spec.inputs[i]))
		}
		n, err := numelOf(t.Shape)
		if err != nil {
			return nil, tp.fail(fmt.Errorf("autograd: %s: input %s: %w", spec.name, spec.inputs[i], err))
		}
		if n != len(t.Data) {
			return nil, tp.fail(fmt.Errorf("autograd: %s: input %s %v: shape holds %d elements, data has %d (was the tape Reset?)",
				spec.name, spec.inputs[i], t, n, len(t.Data)))
		}
		shapes[i] = t.Shape
	}
	out, err := spec.check(shapes, attr)
	if err != nil {
		names := make([]string, len(in))
		for i, t := range in {
			names[i] = fmt.Sprintf("%s %v", spec.inputs[i], t)
		}
		return nil, tp.fail(fmt.Errorf("autograd: %s(%s): %w", spec.name, strings.Join(names, ", "), err))
	}
	return out, true
}

// --- shape rules -------------------------------------------------------------------------

// matMulAttr holds MatMul's transposition flags.
type matMulAttr struct{ transA, transB bool }

func checkMatMul(in [][]int, attr any) ([]int, error) {
	at := attr.(matMulAttr)
	a, b := in[0], in[1]
	if len(a) < 2 || len(b) < 2 {
		return nil, errors.New("both operands need at least 2 dimensions")
	}
	ba, bb := a[:len(a)-2], b[:len(b)-2]
	if len(bb) > 0 && !slices.Equal(ba, bb) {
		return nil, fmt.Errorf("batch dimensions differ: %v and %v (b may also have none, shared across the batch)", ba, bb)
	}
	m, ka := a[len(a)-2], a[len(a)-1]
	if at.transA {
		m, ka = ka, m
	}
	kb, n := b[len(b)-2], b[len(b)-1]
	if at.transB {
		kb, n = n, kb
	}
	if ka != kb {
		return nil, fmt.Errorf("inner dimensions differ: op(a) is %dx%d, op(b) is %dx%d (transA=%v transB=%v)", m, ka, kb, n, at.transA, at.transB)
	}
	return append(slices.Clone(ba), m, n), nil
}

// broadcastShape returns the NumPy broadcast of a and b: dimensions aligned from the right,
// each pair equal or one of them 1.
func broadcastShape(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := len(a) - r + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - r + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast (dimension %d: %d vs %d)", a, b, i, da, db)
		}
	}
	return out, nil
}

func checkBroadcast(in [][]int, _ any) ([]int, error) { return broadcastShape(in[0], in[1]) }

func checkLastDimVector(in [][]int, _ any) ([]int, error) {
	x, b := in[0], in[1]
	if len(x) == 0 {
		return nil, errors.New("x must have at least one dimension")
	}
	if len(b) != 1 || b[0] != x[len(x)-1] {
		return nil, fmt.Errorf("bias must have shape [%d] (the last dimension of x), got %v", x[len(x)-1], b)
	}
	return slices.Clone(x), nil
}

func checkScale(in [][]int, attr any) ([]int, error) {
	if c := attr.(float64); !finite(c) {
		return nil, fmt.Errorf("scale factor %v is not finite", c)
	}
	return slices.Clone(in[0]), nil
}

func checkReduce(in [][]int, _ any) ([]int, error) { return []int{}, nil }

func checkAny(in [][]int, _ any) ([]int, error) { return slices.Clone(in[0]), nil }

func checkSameShape(in [][]int, _ any) ([]int, error) {
	if !slices.Equal(in[0], in[1]) {
		return nil, fmt.Errorf("shapes differ: %v and %v", in[0], in[1])
	}
	return slices.Clone(in[0]), nil
}

func checkReshape(in [][]int, attr any) ([]int, error) {
	shape := attr.([]int)
	n, err := numelOf(shape)
	if err != nil {
		return nil, err
	}
	if m, _ := numelOf(in[0]); m != n {
		return nil, fmt.Errorf("cannot reshape %d elements to %v (%d elements)", m, shape, n)
	}
	return slices.Clone(shape), nil
}

// checkRows accepts any tensor with at least one dimension, read as rows of its last dimension.
func checkRows(in [][]int, _ any) ([]int, error) {
	x := in[0]
	if len(x) == 0 || x[len(x)-1] == 0 {
		return nil, fmt.Errorf("need at least one dimension with a non-zero last dimension, got %v", x)
	}
	return slices.Clone(x), nil
}

// rowsOf returns (rows, cols) of a tensor read as rows of its last dimension.
func rowsOf(shape []int) (int, int) {
	if len(shape) == 0 {
		return 1, 1
	}
	c := shape[len(shape)-1]
	if c == 0 {
		return 0, 0
	}
	n, _ := numelOf(shape)
	return n / c, c
}

// embeddingAttr holds the token ids of an Embedding lookup.
type embeddingAttr struct{ ids []int32 }

func checkEmbedding(in [][]int, attr any) ([]int, error) {
	t := in[0]
	ids := attr.(embeddingAttr).ids
	if len(t) != 2 {
		return nil, fmt.Errorf("table must be [vocab, dim], got %v", t)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= t[0] {
			return nil, fmt.Errorf("id %d at position %d is outside the table's %d rows", id, i, t[0])
		}
	}
	return []int{len(ids), t[1]}, nil
}

func checkRMSNorm(in [][]int, attr any) ([]int, error) {
	out, err := checkLastDimVector(in, nil)
	if err != nil {
		return nil, err
	}
	if eps := attr.(float64); !(eps > 0) || !finite(eps) {
		return nil, fmt.Errorf("eps must be positive and finite, got %v", eps)
	}
	return out, nil
}

func checkRoPE(in [][]int, attr any) ([]int, error) {
	a := attr.(ropeAttr)
	x := in[0]
	c := a.cfg
	if c.HeadDim <= 0 || c.HeadDim%2 != 0 {
		return nil, fmt.Errorf("HeadDim must be positive and even, got %d", c.HeadDim)
	}
	if c.Style != RoPENormal && c.Style != RoPENeoX {
		return nil, fmt.Errorf("unknown RoPE style %d", c.Style)
	}
	if c.Freqs != nil {
		if len(c.Freqs) != c.HeadDim/2 {
			return nil, fmt.Errorf("Freqs has %d entries, want HeadDim/2 = %d", len(c.Freqs), c.HeadDim/2)
		}
		for i, f := range c.Freqs {
			if !finite(f) {
				return nil, fmt.Errorf("Freqs[%d] = %v is not finite", i, f)
			}
		}
	} else if !(c.Theta > 0) || !finite(c.Theta) {
		return nil, fmt.Errorf("Theta must be positive and finite, got %v", c.Theta)
	}
	if len(x) == 0 || x[len(x)-1]%c.HeadDim != 0 {
		return nil, fmt.Errorf("the last dimension must be a multiple of HeadDim %d, got shape %v", c.HeadDim, x)
	}
	rows, _ := rowsOf(x)
	if len(a.pos) != rows {
		return nil, fmt.Errorf("%d positions for %d rows", len(a.pos), rows)
	}
	for i, p := range a.pos {
		if p < 0 {
			return nil, fmt.Errorf("position %d at row %d is negative", p, i)
		}
	}
	return slices.Clone(x), nil
}

func checkAttention(in [][]int, attr any) ([]int, error) {
	c := attr.(AttentionConfig)
	q, k, v := in[0], in[1], in[2]
	if c.Heads <= 0 || c.KVHeads <= 0 || c.HeadDim <= 0 {
		return nil, fmt.Errorf("Heads (%d), KVHeads (%d) and HeadDim (%d) must be positive", c.Heads, c.KVHeads, c.HeadDim)
	}
	if c.Heads%c.KVHeads != 0 {
		return nil, fmt.Errorf("Heads %d is not a multiple of KVHeads %d", c.Heads, c.KVHeads)
	}
	if !finite(c.Scale) || c.Scale < 0 {
		return nil, fmt.Errorf("Scale %v must be finite and non-negative (0 means 1/sqrt(HeadDim))", c.Scale)
	}
	if len(q) != 3 || len(k) != 3 || len(v) != 3 {
		return nil, errors.New("q, k and v must be [batch, seq, heads*headDim]")
	}
	if q[2] != c.Heads*c.HeadDim {
		return nil, fmt.Errorf("q's last dimension %d is not Heads*HeadDim = %d", q[2], c.Heads*c.HeadDim)
	}
	want := []int{q[0], q[1], c.KVHeads * c.HeadDim}
	if !slices.Equal(k, want) || !slices.Equal(v, want) {
		return nil, fmt.Errorf("k and v must be %v", want)
	}
	return slices.Clone(q), nil
}

// crossEntropyAttr holds CrossEntropy's targets and ignore index.
type crossEntropyAttr struct {
	targets []int32
	ignore  int32
}

func checkCrossEntropy(in [][]int, attr any) ([]int, error) {
	a := attr.(crossEntropyAttr)
	if _, err := checkRows(in, nil); err != nil {
		return nil, err
	}
	rows, v := rowsOf(in[0])
	if len(a.targets) != rows {
		return nil, fmt.Errorf("%d targets for %d rows", len(a.targets), rows)
	}
	for i, t := range a.targets {
		if t != a.ignore && (t < 0 || int(t) >= v) {
			return nil, fmt.Errorf("target %d at row %d is outside [0, %d) and is not the ignore index %d", t, i, v, a.ignore)
		}
	}
	return []int{}, nil
}

func checkKLDiv(in [][]int, attr any) ([]int, error) {
	o := attr.(KLDivOptions)
	if _, err := checkRows(in[:1], nil); err != nil {
		return nil, err
	}
	if !slices.Equal(in[0], in[1]) {
		return nil, fmt.Errorf("student %v and teacher %v logits differ in shape", in[0], in[1])
	}
	if o.Temperature < 0 || !finite(o.Temperature) || math.IsNaN(o.Temperature) {
		return nil, fmt.Errorf("Temperature %v must be positive and finite (0 means 1)", o.Temperature)
	}
	if rows, _ := rowsOf(in[0]); o.IgnoreRows != nil && len(o.IgnoreRows) != rows {
		return nil, fmt.Errorf("IgnoreRows has %d entries for %d rows", len(o.IgnoreRows), rows)
	}
	return []int{}, nil
}
