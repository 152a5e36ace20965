package distill

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/mcompress/mcompress/convert/safetensors"
	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/internal/f32bytes"
)

// A checkpoint is one safetensors file (written atomically) holding everything a run needs to
// continue bit for bit: the parameters ("param/NAME"), AdamW's moments ("adam_m/NAME",
// "adam_v/NAME"), all F32, and in the metadata under "mcompress.checkpoint" the step, the data
// position (epoch, position in the epoch's permutation, the epoch's seed), the state of the
// random generator that draws epoch seeds, AdamW's step count and a fingerprint of the options
// and data the run was started with.

const checkpointKey = "mcompress.checkpoint"

// checkpointState is the metadata of a checkpoint.
type checkpointState struct {
	Version     int     `json:"version"`
	Step        int     `json:"step"`
	Steps       int     `json:"steps"`
	Tokens      int64   `json:"tokens"`
	Epoch       int     `json:"epoch"`
	Pos         int     `json:"pos"`
	EpochSeed   uint64  `json:"epoch_seed"`
	RNG         []byte  `json:"rng"`
	AdamSteps   int64   `json:"adam_steps"`
	Fingerprint string  `json:"fingerprint"`
	Elapsed     float64 `json:"elapsed_s"`
}

// checkpointName returns the file name of the checkpoint after step.
func checkpointName(step int) string { return fmt.Sprintf("step-%08d.safetensors", step) }

// listCheckpoints returns the steps of the checkpoints in dir, ascending.
func listCheckpoints(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var steps []int
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "step-") || !strings.HasSuffix(n, ".safetensors") {
			continue
		}
		s, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(n, "step-"), ".safetensors"))
		if err == nil && s >= 0 {
			steps = append(steps, s)
		}
	}
	sort.Ints(steps)
	return steps, nil
}

// saveCheckpoint writes the checkpoint of st to dir and keeps only the newest keep files.
func saveCheckpoint(dir string, m *Model, opt *AdamW, samp *sampler, st checkpointState, keep int) (string, error) {
	rng, err := samp.rng.MarshalBinary()
	if err != nil {
		return "", err
	}
	st.Version = 1
	st.Epoch, st.Pos, st.EpochSeed, st.RNG = samp.epoch, samp.pos, samp.epochSeed, rng
	st.AdamSteps = opt.Steps
	meta, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	params := m.Params.List()
	var infos []safetensors.TensorInfo
	var data [][]float32
	for _, prefix := range []string{"param/", "adam_m/", "adam_v/"} {
		for i, p := range params {
			shape := make([]int64, len(p.Shape))
			for j, d := range p.Shape {
				shape[j] = int64(d)
			}
			infos = append(infos, safetensors.TensorInfo{Name: prefix + p.Name, DType: safetensors.F32, Shape: shape})
			switch prefix {
			case "param/":
				data = append(data, p.Data)
			case "adam_m/":
				data = append(data, opt.m[i])
			default:
				data = append(data, opt.v[i])
			}
		}
	}
	path := filepath.Join(dir, checkpointName(st.Step))
	err = safetensors.WriteFile(path, map[string]string{checkpointKey: string(meta)}, infos, func(w *safetensors.Writer) error {
		for i, t := range infos {
			if err := w.WriteTensor(t.Name, f32bytes.Of(data[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("distill: checkpoint: %w", err)
	}
	if keep > 0 {
		steps, _ := listCheckpoints(dir)
		for len(steps) > keep {
			os.Remove(filepath.Join(dir, checkpointName(steps[0])))
			steps = steps[1:]
		}
	}
	return path, nil
}

// loadCheckpoint restores m, opt and samp from the checkpoint at path, which must have been
// written by a run with the same fingerprint.
func loadCheckpoint(path string, m *Model, opt *AdamW, samp *sampler, fingerprint string) (checkpointState, error) {
	var st checkpointState
	f, err := safetensors.Open(path)
	if err != nil {
		return st, badInputf("resume: %v", err)
	}
	defer f.Close()
	if err := json.Unmarshal([]byte(f.Metadata[checkpointKey]), &st); err != nil {
		return st, badInputf("resume: %s: no readable %s metadata: %v", path, checkpointKey, err)
	}
	if st.Version != 1 {
		return st, badInputf("resume: %s: checkpoint version %d not supported", path, st.Version)
	}
	if st.Fingerprint != fingerprint {
		return st, badInputf("resume: %s was written by a run with other options or data (model, loss, optimizer, batch, steps, seed or data differ); start a new output folder or use the same flags", path)
	}
	get := func(name string, dst []float32) error {
		i, ok := f.TensorIndex(name)
		if !ok {
			return badInputf("resume: %s: tensor %q missing", path, name)
		}
		t := f.Tensors[i]
		if t.DType != safetensors.F32 || t.NumElements() != int64(len(dst)) {
			return badInputf("resume: %s: tensor %q is %s with %d elements, want F32 with %d", path, name, t.DType, t.NumElements(), len(dst))
		}
		f32From(dst, f.TensorData(i))
		return nil
	}
	for i, p := range m.Params.List() {
		if err := get("param/"+p.Name, p.Data); err != nil {
			return st, err
		}
		if err := get("adam_m/"+p.Name, opt.m[i]); err != nil {
			return st, err
		}
		if err := get("adam_v/"+p.Name, opt.v[i]); err != nil {
			return st, err
		}
	}
	opt.Steps = st.AdamSteps
	rng := &rand.PCG{}
	if err := rng.UnmarshalBinary(st.RNG); err != nil {
		return st, badInputf("resume: %s: random generator state: %v", path, err)
	}
	if st.Epoch < 0 || st.Pos < 0 || st.Pos > samp.n {
		return st, badInputf("resume: %s: data position %d/%d out of range", path, st.Pos, samp.n)
	}
	samp.rng, samp.epoch, samp.pos, samp.epochSeed = rng, st.Epoch, st.Pos, st.EpochSeed
	samp.perm = datasets.Permutation(samp.n, st.EpochSeed)
	return st, nil
}
