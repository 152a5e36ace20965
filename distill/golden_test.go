package distill

import (
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mcompress/mcompress/distill/autograd"
)

// The tests in this file check the trainable model, its losses and the optimizer end to end
// (through the loaders) against the independent PyTorch gradients of
// ../shared/fixtures/shakespeare-llama/grads (see its index.json for formulas and tolerances).

const (
	gradTol = 1e-4 // per tensor, max|ours − golden| / max|golden|, float32
	lossTol = 1e-5 // relative
)

// metaFloat reads a float64 from a safetensors metadata entry.
func metaFloat(t *testing.T, md map[string]string, key string) float64 {
	v, err := strconv.ParseFloat(md[key], 64)
	if err != nil {
		t.Fatalf("metadata %q: %v", key, err)
	}
	return v
}

// compareGrads checks every parameter gradient of m against golden (GGUF names and order).
func compareGrads(t *testing.T, m *Model, golden map[string][]float32, tokens []int32) {
	t.Helper()
	if len(golden) != m.Params.Len() {
		t.Errorf("golden file has %d tensors, the model %d parameters", len(golden), m.Params.Len())
	}
	worst, worstName := 0.0, ""
	for _, p := range m.Params.List() {
		g, ok := golden[p.Name]
		if !ok {
			t.Errorf("no golden gradient for %s", p.Name)
			continue
		}
		if len(p.Grad) != len(g) {
			t.Fatalf("%s: gradient has %d elements, golden %d", p.Name, len(p.Grad), len(g))
		}
		e := relErr(p.Grad, g)
		if e > worst {
			worst, worstName = e, p.Name
		}
		if e > gradTol {
			t.Errorf("%s: gradient relative error %.3g > %g", p.Name, e, gradTol)
		}
	}
	t.Logf("worst gradient: %s %.3g", worstName, worst)
	// Rows of the embedding for absent tokens are exactly zero.
	present := map[int32]bool{}
	for _, id := range tokens {
		present[id] = true
	}
	emb := m.Params.Get("token_embd.weight")
	h := m.Config.Hidden
	for id := 0; id < m.Config.VocabSize; id++ {
		if present[int32(id)] {
			continue
		}
		for _, v := range emb.Grad[id*h : (id+1)*h] {
			if v != 0 {
				t.Fatalf("embedding gradient row %d (token absent) is not zero: %g", id, v)
			}
		}
	}
}

func checkLoss(t *testing.T, what string, got, want float64) {
	t.Helper()
	if e := math.Abs(got-want) / math.Abs(want); e > lossTol {
		t.Errorf("%s = %.9f, golden %.9f (relative error %.3g)", what, got, want, e)
	} else {
		t.Logf("%s = %.9f, golden %.9f (relative error %.3g)", what, got, want, e)
	}
}

// TestGoldenTeacherCE: the teacher loaded from hf/ (BF16), cross-entropy over the 64 golden
// tokens, gradients of every parameter.
func TestGoldenTeacherCE(t *testing.T) {
	dir := fixtureDir(t)
	m, err := LoadModel(filepath.Join(dir, "hf"))
	if err != nil {
		t.Fatal(err)
	}
	tokens := goldenTokens(t)
	golden, md := readGoldenGGUF(t, filepath.Join(dir, "grads", "teacher-ce.safetensors"), m.Config.Heads, m.Config.KVHeads)
	tp := &Tape{}
	logits, err := m.Forward(tp, tokens, 1, len(tokens))
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(logits.Data, goldenLogits(t)); e > 1e-5 {
		t.Errorf("logits differ from golden/logits-f32.bin: relative error %.3g", e)
	}
	targets, skip := nextTokenTargets(tokens, 1, len(tokens))
	loss, parts, err := lossFull(tp, logits, nil, targets, skip, LossOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Backward(loss); err != nil {
		t.Fatal(err)
	}
	checkLoss(t, "teacher CE", parts.Loss, metaFloat(t, md, "loss_value"))
	compareGrads(t, m, golden, tokens)
}

// goldenStudentKD runs the student of grads/student against teacher logits from the runtime
// on gguf/teacher-F32.gguf (through Teacher) with the given loss and compares with file.
func goldenStudentKD(t *testing.T, file string, o LossOptions) {
	dir := fixtureDir(t)
	m, err := LoadModel(filepath.Join(dir, "grads", "student"))
	if err != nil {
		t.Fatal(err)
	}
	teacher, err := OpenTeacher(filepath.Join(dir, "gguf", "teacher-F32.gguf"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	tokens := goldenTokens(t)
	tl, err := teacher.Logits(tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(tl, goldenLogits(t)); e > 1e-5 {
		t.Errorf("runtime teacher logits differ from golden: %.3g", e)
	}
	golden, md := readGoldenGGUF(t, filepath.Join(dir, "grads", file), m.Config.Heads, m.Config.KVHeads)
	tp := &Tape{}
	logits, err := m.Forward(tp, tokens, 1, len(tokens))
	if err != nil {
		t.Fatal(err)
	}
	teach, _ := autograd.NewTensor(tl, logits.Shape...)
	targets, skip := nextTokenTargets(tokens, 1, len(tokens))
	loss, parts, err := lossFull(tp, logits, teach, targets, skip, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Backward(loss); err != nil {
		t.Fatal(err)
	}
	checkLoss(t, "loss", parts.Loss, metaFloat(t, md, "loss_value"))
	checkLoss(t, "KL", parts.KL, metaFloat(t, md, "kl_value"))
	checkLoss(t, "CE", parts.CE, metaFloat(t, md, "ce_value"))
	compareGrads(t, m, golden, tokens)
}

func TestGoldenStudentKD(t *testing.T) {
	goldenStudentKD(t, "student-kd.safetensors", LossOptions{Divergence: ForwardKL, Alpha: 0.5, Temperature: 2})
}

func TestGoldenStudentReverseKL(t *testing.T) {
	goldenStudentKD(t, "student-reverse-kl.safetensors", LossOptions{Divergence: ReverseKL, Alpha: 1, Temperature: 1})
}

// TestGoldenAdamW feeds the stored gradients to the optimizer: one step from grads/student must
// give adamw-step.safetensors within 1e-6.
func TestGoldenAdamW(t *testing.T) {
	dir := fixtureDir(t)
	m, err := LoadModel(filepath.Join(dir, "grads", "student"))
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	grads, _ := readGoldenGGUF(t, filepath.Join(dir, "grads", "student-kd.safetensors"), c.Heads, c.KVHeads)
	want, _ := readGoldenGGUF(t, filepath.Join(dir, "grads", "adamw-step.safetensors"), c.Heads, c.KVHeads)
	for _, p := range m.Params.List() {
		p.Grad = grads[p.Name]
	}
	opt := NewAdamW(m.Params.List(), AdamWOptions{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	opt.Step(1e-3)
	for _, p := range m.Params.List() {
		if e := relErr(p.Data, want[p.Name]); e > 1e-6 {
			t.Errorf("%s: parameters after one step: relative error %.3g > 1e-6", p.Name, e)
		}
	}
}
