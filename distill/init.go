package distill

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// InitRandom fills every matrix with N(0, std²) (0.02 when std is 0), norm weights with 1 and
// biases with 0, drawing from a PCG seeded with seed in parameter order: the same seed gives
// the same weights on every machine.
func (m *Model) InitRandom(seed uint64, std float64) {
	if std == 0 {
		std = 0.02
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d636f6d70726573))
	for _, p := range m.Params.List() {
		initParam(p, rng, std)
	}
}

func initParam(p *Tensor, rng *rand.Rand, std float64) {
	switch {
	case strings.HasSuffix(p.Name, ".bias"):
		clear(p.Data)
	case len(p.Shape) == 1:
		for i := range p.Data {
			p.Data[i] = 1
		}
	default:
		for i := range p.Data {
			p.Data[i] = float32(std * rng.NormFloat64())
		}
	}
}

// InitReport says where each parameter of a student came from.
type InitReport struct {
	Copied, Sliced, Random []string
}

// String summarises the report in one line.
func (r InitReport) String() string {
	return fmt.Sprintf("%d tensors copied from the teacher, %d sliced, %d random", len(r.Copied), len(r.Sliced), len(r.Random))
}

// LayerMap returns, for a student of studentLayers blocks initialised from a teacher of
// teacherLayers, the teacher block of each student block: evenly spaced, first block first
// (every other layer when the student has half as many).
func LayerMap(studentLayers, teacherLayers int) []int {
	out := make([]int, studentLayers)
	for i := range out {
		out[i] = i * teacherLayers / studentLayers
	}
	return out
}

// InitFromTeacher initialises m from teacher where shapes allow: block i of the student takes
// block LayerMap(...)[i] of the teacher, and each tensor is copied when the shapes agree, or
// sliced (the leading rows and columns, whole heads first for attention) when every dimension
// of the student's is at most the teacher's. Tensors that cannot be taken (a wider student,
// no counterpart) are drawn as InitRandom does with seed.
func (m *Model) InitFromTeacher(teacher *Model, seed uint64, std float64) InitReport {
	if std == 0 {
		std = 0.02
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d636f6d70726573))
	lmap := LayerMap(m.Config.Layers, teacher.Config.Layers)
	var rep InitReport
	for _, p := range m.Params.List() {
		name := teacherName(p.Name, lmap)
		src := teacher.Params.Get(name)
		if src == nil && name == "output.weight" {
			src = teacher.Params.Get("token_embd.weight")
		}
		// Keep the random stream aligned whatever happens, so results do not depend on which
		// tensors could be copied.
		initParam(p, rng, std)
		switch {
		case src == nil || len(src.Shape) != len(p.Shape):
			rep.Random = append(rep.Random, p.Name)
		case equalInts(src.Shape, p.Shape):
			copy(p.Data, src.Data)
			rep.Copied = append(rep.Copied, p.Name)
		case fits(p.Shape, src.Shape):
			sliceInto(p, src)
			rep.Sliced = append(rep.Sliced, p.Name)
		default:
			rep.Random = append(rep.Random, p.Name)
		}
	}
	return rep
}

// teacherName maps a student parameter name to the teacher's through the layer map.
func teacherName(name string, lmap []int) string {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return name
	}
	num, tail, ok := strings.Cut(rest, ".")
	if !ok {
		return name
	}
	l, err := strconv.Atoi(num)
	if err != nil || l < 0 || l >= len(lmap) {
		return name
	}
	return fmt.Sprintf("blk.%d.%s", lmap[l], tail)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func fits(small, big []int) bool {
	for i := range small {
		if small[i] > big[i] {
			return false
		}
	}
	return true
}

// sliceInto copies the leading block of src into dst (1-D or 2-D).
func sliceInto(dst, src *Tensor) {
	if len(dst.Shape) == 1 {
		copy(dst.Data, src.Data[:dst.Shape[0]])
		return
	}
	rows, cols, scols := dst.Shape[0], dst.Shape[1], src.Shape[1]
	for r := range rows {
		copy(dst.Data[r*cols:(r+1)*cols], src.Data[r*scols:r*scols+cols])
	}
}
