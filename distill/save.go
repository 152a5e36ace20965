package distill

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/f32bytes"
)

// SaveOptions configure Save.
type SaveOptions struct {
	// OutType is the storage type of the GGUF's matrices: f32 (the zero value means f32 here,
	// lossless), f16 or bf16. The Hugging Face folder is always F32.
	OutType convert.OutType
	// Name sets general.name; "" keeps the metadata's.
	Name string
}

// Save writes the model as a Hugging Face folder hfDir (config.json, model.safetensors in F32,
// the tokenizer files, generation_config.json, README.md) and as the GGUF file ggufPath, both
// through the converter: the weights go first into a temporary F32 GGUF beside ggufPath, which
// convert.ToHF turns into the folder (undoing the Q/K permutation), which convert.Convert turns
// into the GGUF, so the two agree with each other and with what llama.cpp's converter would
// make of the folder. Either path may be "" to skip it (the folder is still written to a
// temporary place when only the GGUF is wanted). On error nothing is left behind.
func (m *Model) Save(ctx context.Context, hfDir, ggufPath string, o SaveOptions) (err error) {
	if hfDir == "" && ggufPath == "" {
		return errors.New("distill: save: no output given")
	}
	md, err := m.saveMetadata(o.Name)
	if err != nil {
		return err
	}
	tmpDir := filepath.Dir(ggufPath)
	if ggufPath == "" {
		tmpDir = filepath.Dir(filepath.Clean(hfDir))
	}
	work, err := os.MkdirTemp(tmpDir, ".mcompress-save-")
	if err != nil {
		return fmt.Errorf("distill: save: %w: %w", ErrBadInput, err)
	}
	defer os.RemoveAll(work)
	tmpGGUF := filepath.Join(work, "model-f32.gguf")
	if err := m.writeGGUF(tmpGGUF, md); err != nil {
		return err
	}
	outHF := hfDir
	if outHF == "" {
		outHF = filepath.Join(work, "hf")
	}
	created := false
	if _, err := os.Stat(outHF); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	if _, err := convert.ToHF(ctx, tmpGGUF, outHF, convert.HFOptions{}); err != nil {
		return fmt.Errorf("distill: save: %w", err)
	}
	if ggufPath == "" {
		return nil
	}
	ot := o.OutType
	if ot == convert.OutAuto {
		ot = convert.OutF32
	}
	if _, err := convert.Convert(ctx, outHF, ggufPath, convert.Options{OutType: ot, Name: o.Name}); err != nil {
		if hfDir != "" && created {
			os.RemoveAll(hfDir)
		}
		return fmt.Errorf("distill: save: %w", err)
	}
	return nil
}

// saveMetadata returns the GGUF metadata for the model's current config: the tokenizer and
// general keys of m.Metadata with the architecture keys rewritten.
func (m *Model) saveMetadata(name string) (gguf.Metadata, error) {
	c := m.Config
	if !m.Metadata.Has("tokenizer.ggml.tokens") {
		return nil, badInputf("save: the model has no tokenizer in its metadata; give one (a teacher, or --tokenizer)")
	}
	old, _ := m.Metadata.String("general.architecture")
	md := make(gguf.Metadata, 0, len(m.Metadata))
	for _, kv := range m.Metadata {
		k := kv.Key
		if old != "" && old != c.Arch && strings.HasPrefix(k, old+".") {
			k = c.Arch + k[len(old):]
		}
		if k == "general.quantization_version" || strings.HasPrefix(k, "quantize.") || strings.HasPrefix(k, c.Arch+".rope.scaling.") {
			continue
		}
		md = append(md, gguf.KV{Key: k, Value: kv.Value})
	}
	a := c.Arch + "."
	md.Set("general.architecture", c.Arch)
	md.Set("general.file_type", uint32(0))
	if name != "" {
		md.Set("general.name", name)
	}
	for _, k := range []string{"general.size_label", "general.basename", "general.finetune"} {
		md.Delete(k)
	}
	md.Set(a+"block_count", uint32(c.Layers))
	md.Set(a+"context_length", uint32(c.ContextLength))
	md.Set(a+"embedding_length", uint32(c.Hidden))
	md.Set(a+"feed_forward_length", uint32(c.FFN))
	md.Set(a+"attention.head_count", uint32(c.Heads))
	md.Set(a+"attention.head_count_kv", uint32(c.KVHeads))
	md.Set(a+"rope.freq_base", float32(c.RopeTheta))
	md.Set(a+"attention.layer_norm_rms_epsilon", float32(c.RMSNormEps))
	if md.Has(a+"rope.dimension_count") || c.Arch == "llama" {
		md.Set(a+"rope.dimension_count", uint32(c.RopeDim))
	}
	if md.Has(a+"vocab_size") || c.Arch == "llama" {
		md.Set(a+"vocab_size", uint32(c.VocabSize))
	}
	if md.Has(a+"attention.key_length") || c.Arch == "qwen3" || c.HeadDim*c.Heads != c.Hidden {
		md.Set(a+"attention.key_length", uint32(c.HeadDim))
		md.Set(a+"attention.value_length", uint32(c.HeadDim))
	}
	if c.RopeScaling.Type == "linear" || c.RopeScaling.Type == "yarn" {
		md.Set(a+"rope.scaling.type", c.RopeScaling.Type)
		md.Set(a+"rope.scaling.factor", float32(c.RopeScaling.Factor))
		if c.RopeScaling.OriginalContext > 0 {
			md.Set(a+"rope.scaling.original_context_length", uint32(c.RopeScaling.OriginalContext))
		}
	}
	if c.SlidingWindow > 0 {
		md.Set(a+"attention.sliding_window", uint32(c.SlidingWindow))
	}
	return md, nil
}

// writeGGUF writes the parameters as an F32 GGUF file with md.
func (m *Model) writeGGUF(path string, md gguf.Metadata) error {
	var infos []gguf.TensorInfo
	var data [][]float32
	add := func(name string, shape []int, d []float32) {
		infos = append(infos, gguf.TensorInfo{Name: name, Type: gguf.TypeF32, Dims: reversed64(shape)})
		data = append(data, d)
	}
	if m.RopeFactors != nil {
		add("rope_freqs.weight", []int{len(m.RopeFactors)}, m.RopeFactors)
	}
	for _, p := range m.Params.List() {
		add(p.Name, p.Shape, p.Data)
	}
	err := gguf.WriteFile(path, slices.Clone(md), infos, func(w *gguf.Writer) error {
		for i, t := range infos {
			if err := w.WriteTensor(t.Name, f32bytes.Of(data[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("distill: save: %w", err)
	}
	return nil
}

// f32From decodes little-endian float32 bytes into dst (len(dst) values).
func f32From(dst []float32, b []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}
