package calibrate

import (
	"bytes"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/runtime"
)

// TestExactSum checks that an ExactSum is the correctly rounded sum whatever the order and
// however the terms are split into partial sums, where float64 addition is not.
func TestExactSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	terms := make([]float64, 5000)
	for i := range terms {
		x := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-6)))
		terms[i] = float64(x) * float64(x)
	}
	want := new(big.Float).SetPrec(4096)
	var naive float64
	for _, v := range terms {
		want.Add(want, new(big.Float).SetFloat64(v))
		naive += v
	}
	wantF, _ := want.Float64()
	for _, parts := range []int{1, 2, 3, 7} {
		var total ExactSum
		for p := range parts {
			var s ExactSum
			for _, v := range terms[p*len(terms)/parts : (p+1)*len(terms)/parts] {
				s.Add(v)
			}
			total.AddSum(s)
		}
		if got := total.Float64(); got != wantF {
			t.Errorf("%d parts: %v, want %v (float64 in order: %v)", parts, got, wantF, naive)
		}
	}
	tests := []struct {
		name  string
		terms []float64
		want  float64
	}{
		{"empty", nil, 0},
		{"one", []float64{1}, 1},
		{"tiny and large", []float64{1e30, 1e-30, 1e-30}, 1e30},
		{"below the last bit", []float64{math.Ldexp(1, -130)}, 0},
		{"overflow", []float64{math.Ldexp(1, 127), math.Ldexp(1, 127)}, math.Inf(1)},
		{"too large", []float64{1e40}, math.Inf(1)},
		{"NaN", []float64{1, math.NaN()}, math.Inf(1)},
	}
	for _, tt := range tests {
		var s ExactSum
		for _, v := range tt.terms {
			s.Add(v)
		}
		if got := s.Float64(); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestColumnStateMerge splits observations over three collectors, saves and reads back their
// states, and checks that merging them gives the one collector's statistics bit for bit, and
// that damaged state files are refused.
func TestColumnStateMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var obs []runtime.Activations
	for i := range 9 {
		x := make([]float32, 16*5)
		for j := range x {
			x[j] = float32(rng.NormFloat64() * float64(i+1))
		}
		obs = append(obs, runtime.Activations{Weights: []string{"blk.0.attn_q.weight", "blk.0.attn_k.weight"}, X: x, Rows: 16, Cols: 5})
	}
	one := &ColumnSquares{}
	for _, o := range obs {
		one.Add(o)
	}
	for _, n := range []int{1, 2, 3} {
		merged := &ColumnSquares{}
		for p := range n {
			part := &ColumnSquares{}
			for _, o := range obs[p*len(obs)/n : (p+1)*len(obs)/n] {
				part.Add(o)
			}
			var buf bytes.Buffer
			if err := part.WriteState(&buf); err != nil {
				t.Fatal(err)
			}
			back, err := ReadColumnState(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if err := merged.Merge(back); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := merged.Stats(), one.Stats(); !reflect.DeepEqual(got, want) {
			t.Errorf("%d parts merged differ from one collection", n)
		}
	}
	var buf bytes.Buffer
	one.WriteState(&buf)
	good := buf.Bytes()
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"not a state", []byte("GGUF...."), "not a column-squares state"},
		{"truncated", good[:len(good)-3], "truncated"},
		{"trailing", append(append([]byte{}, good...), 0), "bytes after"},
	} {
		if _, err := ReadColumnState(bytes.NewReader(tt.data)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	other := &ColumnSquares{}
	other.Add(runtime.Activations{Weights: []string{"blk.0.attn_q.weight"}, X: make([]float32, 16*3), Rows: 16, Cols: 3})
	if err := one.Merge(other); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Errorf("merging different shapes: %v", err)
	}
}
