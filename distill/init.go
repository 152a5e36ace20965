package distill

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/mcompress/mcompress/convert/surgery"
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

// InitFromTeacher initialises m from teacher where shapes allow: block i of the student takes
// block surgery.EvenLayers(...)[i] of the teacher, and each tensor is copied when the shapes
// agree, or sliced (surgery.CopyLeading: the leading rows and columns, whole heads first for
// attention) when every dimension of the student's is at most the teacher's. Tensors that
// cannot be taken (a wider student, no counterpart) are drawn as InitRandom does with seed.
func (m *Model) InitFromTeacher(teacher *Model, seed uint64, std float64) InitReport {
	if std == 0 {
		std = 0.02
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d636f6d70726573))
	lmap := surgery.EvenLayers(m.Config.Layers, teacher.Config.Layers)
	var rep InitReport
	for _, p := range m.Params.List() {
		name := surgery.SourceName(p.Name, lmap)
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
		case slices.Equal(src.Shape, p.Shape):
			copy(p.Data, src.Data)
			rep.Copied = append(rep.Copied, p.Name)
		case surgery.CopyLeading(surgery.Tensor{Shape: p.Shape, Data: p.Data}, surgery.Tensor{Shape: src.Shape, Data: src.Data}) == nil:
			rep.Sliced = append(rep.Sliced, p.Name)
		default:
			rep.Random = append(rep.Random, p.Name)
		}
	}
	return rep
}
