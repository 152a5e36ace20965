package autograd

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"
)

// The golden checks compare the engine, through the test model of llama_test.go, with the
// independent PyTorch gradients of ../shared/fixtures/shakespeare-llama/grads (see index.json
// there): per tensor max|ours − golden| / max|golden| below 1e-4 in float32 and 1e-6 in
// float64, losses within 1e-5 (float32) relative.

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// stFile is a parsed safetensors file (test-only reader: F32 and BF16, little-endian).
type stFile struct {
	meta    map[string]string
	tensors map[string]stTensor
}

type stTensor struct {
	shape []int
	data  []float32
}

// readSafetensors parses path: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}}, then the data.
func readSafetensors(path string) (*stFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) < 8 {
		return nil, fmt.Errorf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(raw)
	if n > uint64(len(raw)-8) {
		return nil, fmt.Errorf("%s: header of %d bytes past the end of the file", path, n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	data := raw[8+n:]
	f := &stFile{tensors: map[string]stTensor{}}
	for name, v := range hdr {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &f.meta); err != nil {
				return nil, fmt.Errorf("%s: metadata: %w", path, err)
			}
			continue
		}
		var e struct {
			Dtype   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", path, name, err)
		}
		cnt, err := numelOf(e.Shape)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", path, name, err)
		}
		size := map[string]int{"F32": 4, "BF16": 2}[e.Dtype]
		if size == 0 {
			return nil, fmt.Errorf("%s: tensor %q: dtype %s not supported by this test reader", path, name, e.Dtype)
		}
		lo, hi := e.Offsets[0], e.Offsets[1]
		if lo < 0 || hi > int64(len(data)) || hi-lo != int64(cnt*size) {
			return nil, fmt.Errorf("%s: tensor %q: offsets %v do not fit %d bytes of data", path, name, e.Offsets, len(data))
		}
		b := data[lo:hi]
		vals := make([]float32, cnt)
		for i := range vals {
			if size == 4 {
				vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			} else {
				vals[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			}
		}
		f.tensors[name] = stTensor{shape: e.Shape, data: vals}
	}
	return f, nil
}

// loader returns a parameter loader reading f, converting to T.
func loader[T Float](f *stFile) func(string, []int) ([]T, error) {
	return func(name string, shape []int) ([]T, error) {
		t, ok := f.tensors[name]
		if !ok {
			return nil, fmt.Errorf("tensor %q missing", name)
		}
		if !slices.Equal(t.shape, shape) {
			return nil, fmt.Errorf("tensor %q has shape %v, want %v", name, t.shape, shape)
		}
		out := make([]T, len(t.data))
		for i, v := range t.data {
			out[i] = T(v)
		}
		return out, nil
	}
}

// goldenInputs returns the 64 token ids of golden.json and the teacher's float32 logits.
func goldenInputs(t testing.TB, shared string) ([]int32, []float32) {
	dir := filepath.Join(shared, "fixtures", "shakespeare-llama", "golden")
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		TokenIDs []int32 `json:"token_ids"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	lb, err := os.ReadFile(filepath.Join(dir, "logits-f32.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.TokenIDs) != 64 || len(lb) != 64*2048*4 {
		t.Fatalf("golden inputs: %d ids, %d logit bytes", len(g.TokenIDs), len(lb))
	}
	logits := make([]float32, 64*2048)
	for i := range logits {
		logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(lb[4*i:]))
	}
	return g.TokenIDs, logits
}

// configFromHF reads the fields of an HF config.json the test model needs.
func configFromHF(t testing.TB, path string) llamaConfig {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Vocab   int     `json:"vocab_size"`
		Hidden  int     `json:"hidden_size"`
		FFN     int     `json:"intermediate_size"`
		Layers  int     `json:"num_hidden_layers"`
		Heads   int     `json:"num_attention_heads"`
		KVHeads int     `json:"num_key_value_heads"`
		Eps     float64 `json:"rms_norm_eps"`
		Theta   float64 `json:"rope_theta"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return llamaConfig{vocab: c.Vocab, hidden: c.Hidden, layers: c.Layers, heads: c.Heads, kvHeads: c.KVHeads,
		ffn: c.FFN, eps: c.Eps, theta: c.Theta, style: RoPENeoX}
}

// goldenCase is one gradient file of the fixture.
type goldenCase struct {
	file    string
	student bool // the student model with a KD loss; else the teacher with CE
	alpha   float64
	temp    float64
	reverse bool
}

var goldenCases = []goldenCase{
	{file: "student-kd.safetensors", student: true, alpha: 0.5, temp: 2},
	{file: "student-reverse-kl.safetensors", student: true, alpha: 1, temp: 1, reverse: true},
	{file: "teacher-ce.safetensors"},
}

func TestGoldenGradientsFloat32(t *testing.T) { testGolden[float32](t, 1e-4, 1e-5) }

func TestGoldenGradientsFloat64(t *testing.T) {
	if testing.Short() {
		t.Skip("float64 golden check skipped in -short mode (the float32 one runs)")
	}
	testGolden[float64](t, 1e-6, 1e-7)
}

func testGolden[T Float](t *testing.T, gradTol, lossTol float64) {
	shared := sharedDir(t)
	base := filepath.Join(shared, "fixtures", "shakespeare-llama")
	ids, teacherLogits := goldenInputs(t, shared)
	targets := make([]int32, len(ids))
	for i := range targets {
		targets[i] = -100 // row 63 predicts nothing
		if i+1 < len(ids) {
			targets[i] = ids[i+1]
		}
	}
	for _, c := range goldenCases {
		t.Run(c.file, func(t *testing.T) {
			golden, err := readSafetensors(filepath.Join(base, "grads", c.file))
			if err != nil {
				t.Fatal(err)
			}
			weights, cfgPath := filepath.Join(base, "grads", "student", "model.safetensors"), filepath.Join(base, "grads", "student", "config.json")
			if !c.student {
				weights, cfgPath = filepath.Join(base, "hf", "model.safetensors"), filepath.Join(base, "hf", "config.json")
			}
			wf, err := readSafetensors(weights)
			if err != nil {
				t.Fatal(err)
			}
			m, err := newLlama(configFromHF(t, cfgPath), loader[T](wf))
			if err != nil {
				t.Fatal(err)
			}
			tp := &Tape[T]{}
			logits := m.forward(tp, ids, 1, len(ids))
			var loss *Tensor[T]
			if c.student {
				tl := make([]T, len(teacherLogits))
				for i, v := range teacherLogits {
					tl[i] = T(v)
				}
				teacher, _ := NewTensor(tl, 1, len(ids), 2048)
				loss = kdLoss(tp, logits, teacher, targets, -100, c.alpha, c.temp, c.reverse)
			} else {
				loss = CrossEntropy(tp, logits, targets, -100)
			}
			if err := tp.Backward(loss); err != nil {
				t.Fatal(err)
			}
			// With the float32 teacher logits the fixture gives the loss it moves to.
			key := "loss_with_golden_f32_teacher_logits"
			var want float64
			switch {
			case !c.student:
				want, _ = strconv.ParseFloat(golden.meta["loss_value"], 64)
			case c.reverse:
				want = indexSelfCheck(t, base, "student_reverse-kl", key)
			default:
				want = indexSelfCheck(t, base, "student_kd", key)
			}
			if e := math.Abs(loss.Item()-want) / want; e > lossTol {
				t.Errorf("loss %.10g, golden %.10g (relative error %.3g > %.3g)", loss.Item(), want, e, lossTol)
			} else {
				t.Logf("loss %.10g, golden %.10g (relative error %.3g)", loss.Item(), want, e)
			}
			worst, worstName := 0.0, ""
			for _, p := range m.params.List() {
				g, ok := golden.tensors[p.Name]
				if !ok {
					t.Fatalf("golden file has no %q", p.Name)
				}
				if p.Grad == nil {
					t.Fatalf("%s: no gradient", p.Name)
				}
				e := relMax(p.Grad, g.data)
				if e > worst {
					worst, worstName = e, p.Name
				}
				if e > gradTol {
					t.Errorf("%s: gradient differs by %.3g (max relative), want < %.3g", p.Name, e, gradTol)
				}
			}
			t.Logf("worst gradient %s: %.3g", worstName, worst)
			// Rows of tokens absent from the input are exactly 0 in both.
			emb := m.params.Get("model.embed_tokens.weight")
			h := emb.Shape[1]
			present := map[int32]bool{}
			for _, id := range ids {
				present[id] = true
			}
			for id := 0; id < emb.Shape[0]; id++ {
				if present[int32(id)] {
					continue
				}
				for _, v := range emb.Grad[id*h : (id+1)*h] {
					if v != 0 {
						t.Fatalf("embedding row %d (absent token) has gradient %v", id, v)
					}
				}
			}
		})
	}
}

// indexSelfCheck reads self_checks[section][key] from grads/index.json.
func indexSelfCheck(t *testing.T, base, section, key string) float64 {
	raw, err := os.ReadFile(filepath.Join(base, "grads", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		SelfChecks map[string]json.RawMessage `json:"self_checks"`
	}
	var sec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(idx.SelfChecks[section], &sec); err != nil {
		t.Fatalf("index.json self_checks.%s: %v", section, err)
	}
	var v float64
	if err := json.Unmarshal(sec[key], &v); err != nil {
		t.Fatalf("index.json self_checks.%s.%s: %v", section, key, err)
	}
	return v
}
