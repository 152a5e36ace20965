package convert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
	"github.com/mcompress/mcompress/internal/atomicfile"
)

// HFOptions configures ToHF.
type HFOptions struct {
	// MaxShardSize splits model.safetensors into shards of at most this many bytes (with a
	// model.safetensors.index.json), as transformers' save_pretrained does; <= 0 writes one file.
	MaxShardSize int64
	// Progress, when set, is called with the tensor bytes written so far and the total.
	Progress func(done, total int64)
}

// HFResult summarizes ToHF.
type HFResult struct {
	// Dir is the folder written and Files the files in it.
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
	// Arch is the config.json architecture written.
	Arch string `json:"arch"`
	// TorchDType is config.json's torch_dtype.
	TorchDType string `json:"torch_dtype"`
	// OutType is the --outtype that converts the folder back to the same GGUF file.
	OutType OutType `json:"outtype"`
	// Notes lists what could not be carried over (see docs/CONVERT.md).
	Notes []string `json:"notes,omitempty"`
}

// hfArchFor maps a GGUF architecture to the family written on the way back. Mistral files are
// indistinguishable from llama in GGUF and come back as LlamaForCausalLM, which computes the same.
func hfArchFor(ggufArch string) (architecture, bool) {
	switch ggufArch {
	case "llama":
		return llamaArch{}, true
	case "qwen2":
		return qwen2Arch{}, true
	case "qwen3":
		return qwen3Arch{}, true
	case "gemma2":
		return gemma2Arch{}, true
	case "gemma3":
		return gemma3Arch{}, true
	case "phi3":
		return phi3Arch{}, true
	}
	return nil, false
}

// f32JSON renders a float32 metadata value as the shortest decimal that reads back to the same
// float32, as a Python float would print it.
func f32JSON(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// ToHF converts an F32/F16/BF16 GGUF file of a supported architecture into a Hugging Face
// folder outDir (created if needed): config.json, model.safetensors (sharded when asked),
// generation_config.json, the tokenizer (tokenizer.model for SentencePiece vocabularies,
// tokenizer.json for byte-level BPE ones with a known pre-tokenizer), tokenizer_config.json,
// special_tokens_map.json and a README.md whose front matter carries the authorship metadata.
// The q/k permutation is undone. Converting the folder back with Convert and the returned
// OutType reproduces the GGUF file byte for byte when it came from llama.cpp's converter (see
// docs/CONVERT.md for the exceptions). Every file is written atomically; on error none is left,
// nor the folders ToHF created.
func ToHF(ctx context.Context, path, outDir string, opts HFOptions) (*HFResult, error) {
	existing := filepath.Clean(outDir) // the nearest folder that exists already
	for {
		if _, err := os.Lstat(existing); err == nil || filepath.Dir(existing) == existing {
			break
		}
		existing = filepath.Dir(existing)
	}
	res, err := toHF(ctx, path, outDir, opts)
	if err != nil {
		// Remove the folders made for the output, deepest first; os.Remove keeps any that
		// are not empty.
		for p := filepath.Clean(outDir); p != existing && os.Remove(p) == nil; p = filepath.Dir(p) {
		}
	}
	return res, err
}

// toHF is ToHF but for the removal of the folders it created when it fails.
func toHF(ctx context.Context, path, outDir string, opts HFOptions) (*HFResult, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("convert: %w: %w", ErrBadInput, err)
	}
	defer f.Close()
	md := f.Metadata
	c, err := ConfigFromGGUF(md, f.Tensors)
	if err != nil {
		return nil, fmt.Errorf("convert: %w: %s: %w", ErrBadInput, path, err)
	}
	// The counts go into config.json, where Convert would trust them: check them here.
	if err := checkCounts(path, c, ggufShapes(f.Tensors), ggufCountKeys(md, c.Arch)); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	a, ok := hfArchFor(c.Arch)
	if !ok {
		return nil, fmt.Errorf("convert: %w: %s: architecture %q cannot be exported", ErrBadInput, path, c.Arch)
	}
	st, err := os.Stat(outDir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("convert: %w", err)
		}
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
	} else if !st.IsDir() {
		return nil, fmt.Errorf("convert: %w: %s exists and is not a folder", ErrBadInput, outDir)
	}
	res := &HFResult{Dir: outDir}
	// Tensors: names back, dims reversed, permutation undone, storage type kept.
	type outTensor struct {
		info  safetensors.TensorInfo
		index int
		heads int
		shift float32 // subtracted again (Gemma's norms are stored as 1+w)
	}
	tp, _ := a.(tensorPlanner)
	var tensors []outTensor
	var weightType gguf.TensorType = gguf.TypeF32
	for i, t := range f.Tensors {
		if t.Name == "rope_freqs.weight" || t.Name == "rope_factors_long.weight" || t.Name == "rope_factors_short.weight" {
			continue // regenerated from rope_scaling in config.json
		}
		var dt safetensors.DType
		switch t.Type {
		case gguf.TypeF32:
			dt = safetensors.F32
		case gguf.TypeF16:
			dt = safetensors.F16
		case gguf.TypeBF16:
			dt = safetensors.BF16
		default:
			return nil, fmt.Errorf("convert: %w: %s: tensor %q is %s; only F32, F16 and BF16 files can be exported (convert from the unquantized file)", ErrBadInput, path, t.Name, t.Type)
		}
		if len(t.Dims) >= 2 && t.Type != gguf.TypeF32 {
			weightType = t.Type
		}
		name, ok := hfTensorName(a, t.Name)
		if !ok {
			return nil, fmt.Errorf("convert: %w: %s: tensor %q has no Hugging Face name for %s", ErrBadInput, path, t.Name, c.Arch)
		}
		shape := make([]int64, len(t.Dims))
		for j, d := range t.Dims {
			shape[len(t.Dims)-1-j] = int64(d)
		}
		ot := outTensor{info: safetensors.TensorInfo{Name: name, DType: dt, Shape: shape}, index: i}
		if tp != nil {
			if ot.shift = tp.shift(t.Name); ot.shift != 0 && t.Type != gguf.TypeF32 {
				return nil, fmt.Errorf("convert: %w: %s: tensor %q is %s; the converter writes it as F32", ErrBadInput, path, t.Name, t.Type)
			}
		}
		if a.permuteQK() {
			switch {
			case strings.HasSuffix(t.Name, "attn_q.weight") || strings.HasSuffix(t.Name, "attn_q.bias"):
				ot.heads = c.Heads
			case strings.HasSuffix(t.Name, "attn_k.weight") || strings.HasSuffix(t.Name, "attn_k.bias"):
				ot.heads = c.KVHeads
			}
			if ot.heads > 0 && shape[0]%int64(2*ot.heads) != 0 {
				return nil, fmt.Errorf("convert: %w: %s: tensor %q: %d rows cannot be split into %d heads", ErrBadInput, path, t.Name, shape[0], ot.heads)
			}
		}
		tensors = append(tensors, ot)
	}
	sort.Slice(tensors, func(x, y int) bool { return tensors[x].info.Name < tensors[y].info.Name })
	switch weightType {
	case gguf.TypeF16:
		res.TorchDType, res.OutType = "float16", OutF16
	case gguf.TypeBF16:
		res.TorchDType, res.OutType = "bfloat16", OutBF16
	default:
		res.TorchDType, res.OutType = "float32", OutF32
	}
	if ft, ok := md.Uint("general.file_type"); ok && ft == 0 {
		res.OutType = OutF32
	}
	// Side files, built in memory first (they are small).
	files := map[string][]byte{}
	cfg, notes := hfConfigJSON(a, c, md, f, res.TorchDType)
	res.Notes = append(res.Notes, notes...)
	if files["config.json"], err = pyJSON(cfg, true, true); err != nil {
		return nil, err
	}
	tokFiles, notes, err := hfTokenizerFiles(md, c)
	if err != nil {
		return nil, fmt.Errorf("convert: %s: %w", path, err)
	}
	res.Notes = append(res.Notes, notes...)
	for k, v := range tokFiles {
		files[k] = v
	}
	if gc := hfGenerationConfig(md); gc != nil {
		if files["generation_config.json"], err = pyJSON(gc, true, true); err != nil {
			return nil, err
		}
	}
	files["README.md"] = modelCard(md)
	// Tensor data first (the big part), then the side files; all or nothing.
	infos := make([]safetensors.TensorInfo, len(tensors))
	var total int64
	for i, t := range tensors {
		infos[i] = t.info
		total += int64(f.Tensors[t.index].Size())
	}
	var done int64
	names, err := safetensors.WriteSharded(outDir, map[string]string{"format": "pt"}, infos, opts.MaxShardSize, func(w *safetensors.ShardedWriter) error {
		var buf []byte
		for _, t := range tensors {
			if err := ctx.Err(); err != nil {
				return err
			}
			data := f.TensorData(t.index)
			if t.heads > 0 {
				if cap(buf) < len(data) {
					buf = make([]byte, len(data))
				}
				buf = buf[:len(data)]
				unpermute(buf, data, t.heads, t.info.Shape[0])
				data = buf
			}
			if t.shift != 0 {
				vals := make([]float32, len(data)/4)
				dtype.DecodeF32(vals, data)
				for j := range vals {
					vals[j] -= t.shift
				}
				data = make([]byte, len(data))
				dtype.EncodeF32(data, vals)
			}
			if err := w.WriteTensor(t.info.Name, data); err != nil {
				return err
			}
			done += int64(len(data))
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var written []string
	for _, k := range keys {
		if err := atomicfile.WriteFile(filepath.Join(outDir, k), files[k]); err != nil {
			for _, n := range append(names, written...) {
				os.Remove(filepath.Join(outDir, n))
			}
			return nil, fmt.Errorf("convert: %w", err)
		}
		written = append(written, k)
	}
	res.Files = append(names, written...)
	sort.Strings(res.Files)
	res.Arch = a.hfNames()[0]
	return res, nil
}

// unpermute undoes llama.cpp's q/k row permutation: GGUF row head*d + 2j + s holds PyTorch row
// head*d + s*d/2 + j.
func unpermute(dst, src []byte, heads int, rows int64) {
	rowBytes := int64(len(src)) / rows
	d := rows / int64(heads)
	for u := int64(0); u < rows; u++ {
		head, r := u/d, u%d
		j, s := r/2, r%2
		v := head*d + s*(d/2) + j
		copy(dst[v*rowBytes:(v+1)*rowBytes], src[u*rowBytes:(u+1)*rowBytes])
	}
}

// hfConfigJSON builds config.json for the GGUF metadata.
func hfConfigJSON(a architecture, c Config, md gguf.Metadata, f *gguf.File, torchDType string) (*orderedJSON, []string) {
	var notes []string
	cfg := newOrdered()
	a.hfConfig(cfg, c, md)
	cfg.set("vocab_size", c.VocabSize)
	cfg.set("hidden_size", c.Hidden)
	cfg.set("intermediate_size", c.FFN)
	cfg.set("num_hidden_layers", c.Layers)
	cfg.set("num_attention_heads", c.Heads)
	cfg.set("num_key_value_heads", c.KVHeads)
	cfg.set("max_position_embeddings", c.ContextLength)
	arch := c.Arch
	if v, ok := md.Lookup(arch + ".attention.layer_norm_rms_epsilon"); ok {
		if x, ok := v.(float32); ok {
			cfg.set("rms_norm_eps", f32JSON(x))
		}
	}
	if v, ok := md.Lookup(arch + ".rope.freq_base"); ok {
		if x, ok := v.(float32); ok {
			cfg.set("rope_theta", f32JSON(x))
		}
	} else {
		cfg.set("rope_theta", c.RopeTheta)
	}
	if md.Has(arch + ".attention.key_length") {
		cfg.set("head_dim", c.HeadDim)
	}
	cfg.set("tie_word_embeddings", c.TiedEmbeddings)
	cfg.set("torch_dtype", torchDType)
	cfg.set("initializer_range", 0.02)
	cfg.set("use_cache", true)
	if b, ok := md.Bool(arch + ".attention.causal"); ok && !b {
		cfg.set("is_causal", false)
	}
	rs := newOrdered()
	switch t, _ := md.String(arch + ".rope.scaling.type"); t {
	case "linear":
		rs.set("rope_type", "linear")
		if x, ok := md.Lookup(arch + ".rope.scaling.factor"); ok {
			if v, ok := x.(float32); ok {
				rs.set("factor", f32JSON(v))
			}
		}
	case "yarn":
		rs.set("rope_type", "yarn")
		for _, p := range []struct{ key, field string }{
			{"rope.scaling.factor", "factor"}, {"rope.scaling.yarn_ext_factor", "extrapolation_factor"},
			{"rope.scaling.yarn_attn_factor", "attention_factor"}, {"rope.scaling.yarn_beta_fast", "beta_fast"},
			{"rope.scaling.yarn_beta_slow", "beta_slow"},
		} {
			if x, ok := md.Lookup(arch + "." + p.key); ok {
				if v, ok := x.(float32); ok {
					rs.set(p.field, f32JSON(v))
				}
			}
		}
		if v, ok := md.Uint(arch + ".rope.scaling.original_context_length"); ok {
			rs.set("original_max_position_embeddings", int(v))
		}
	case "", "none":
	default:
		notes = append(notes, fmt.Sprintf("RoPE scaling type %q is not carried over to config.json", t))
	}
	if i, ok := f.TensorIndex("rope_freqs.weight"); ok && arch == "llama" {
		p, ok := llama3FromFactors(c, f.TensorData(i))
		if !ok {
			notes = append(notes, "rope_freqs.weight does not match any llama3 RoPE parameters tried; config.json gets factor 8, low 1, high 4, original 8192")
		}
		rs.set("rope_type", "llama3")
		rs.set("factor", p.Factor)
		rs.set("low_freq_factor", p.LowFreqFactor)
		rs.set("high_freq_factor", p.HighFreqFactor)
		rs.set("original_max_position_embeddings", p.OriginalContext)
	}
	if i, ok := f.TensorIndex("rope_factors_long.weight"); ok {
		// Phi-3's LongRoPE: the factors go back into rope_scaling (the attention factor is
		// recomputed from the context lengths).
		j, ok := f.TensorIndex("rope_factors_short.weight")
		if ok {
			rs.set("rope_type", "longrope")
			for _, p := range []struct {
				field string
				idx   int
			}{{"long_factor", i}, {"short_factor", j}} {
				data := f.TensorData(p.idx)
				vals := make([]float32, len(data)/4)
				dtype.DecodeF32(vals, data)
				list := make([]any, len(vals))
				for k, v := range vals {
					list[k] = f32JSON(v)
				}
				rs.set(p.field, list)
			}
		} else {
			notes = append(notes, "rope_factors_long.weight without rope_factors_short.weight is not carried over")
		}
	}
	if len(rs.keys) > 0 {
		cfg.set("rope_scaling", rs)
	} else {
		cfg.set("rope_scaling", nil)
	}
	for _, typ := range specialTypes {
		if v, ok := md.Uint(specialIDKeys[typ]); ok && specialIDKeys[typ] != "" {
			cfg.set(typ+"_token_id", int(v))
		}
	}
	return cfg, notes
}

// llama3FromFactors finds llama3 RoPE parameters that reproduce the stored rope_freqs exactly.
func llama3FromFactors(c Config, data []byte) (RopeScaling, bool) {
	n := len(data) / 4
	stored := make([]float32, n)
	for i := range stored {
		stored[i] = math.Float32frombits(uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24)
	}
	def := RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContext: 8192}
	if n == 0 {
		return def, false
	}
	factors := []float64{float64(stored[n-1])}
	for _, x := range []float64{8, 16, 32, 4, 2} {
		if x != factors[0] {
			factors = append(factors, x)
		}
	}
	for _, factor := range factors {
		origs := []int{8192, c.ContextLength}
		for p := 16; p <= 1<<20; p *= 2 {
			origs = append(origs, p)
		}
		for _, orig := range origs {
			for _, low := range []float64{1, 2, 0.5} {
				for _, high := range []float64{4, 8, 2, 1} {
					if high <= low {
						continue
					}
					cc := c
					cc.RopeScaling = RopeScaling{Type: "llama3", Factor: factor, LowFreqFactor: low, HighFreqFactor: high, OriginalContext: orig}
					got := llama3RopeFactors(cc)
					if len(got) != n {
						return def, false
					}
					same := true
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(stored[i]) {
							same = false
							break
						}
					}
					if same {
						return cc.RopeScaling, true
					}
				}
			}
		}
	}
	return def, false
}

// hfGenerationConfig builds generation_config.json: special ids and the sampler settings.
func hfGenerationConfig(md gguf.Metadata) map[string]any {
	gc := map[string]any{}
	for _, typ := range []string{"bos", "eos", "pad"} {
		if v, ok := md.Uint(specialIDKeys[typ]); ok {
			gc[typ+"_token_id"] = int(v)
		}
	}
	sampling := false
	for _, s := range samplingKeys {
		v, ok := md.Lookup(s.dst)
		if !ok {
			continue
		}
		sampling = true
		switch x := v.(type) {
		case float32:
			gc[s.src] = f32JSON(x)
		case int32:
			gc[s.src] = int(x)
		case string:
			gc[s.src] = x
		}
	}
	if sampling {
		gc["do_sample"] = true
	}
	if len(gc) == 0 {
		return nil
	}
	return gc
}

// modelCard writes README.md with a YAML front matter holding the authorship metadata that
// llama.cpp reads back from model cards (name, size label, license, tags ...).
func modelCard(md gguf.Metadata) []byte {
	var b strings.Builder
	b.WriteString("---\n")
	q := func(s string) string { return pyQuote(s, false) }
	for _, p := range []struct{ card, key string }{
		{"name", "general.name"}, {"author", "general.author"}, {"version", "general.version"},
		{"organization", "general.organization"}, {"finetune", "general.finetune"},
		{"basename", "general.basename"}, {"description", "general.description"},
		{"size_label", "general.size_label"}, {"license", "general.license"},
		{"license_name", "general.license.name"}, {"license_link", "general.license.link"},
		{"url", "general.source.url"}, {"doi", "general.source.doi"}, {"uuid", "general.source.uuid"},
		{"repo_url", "general.source.repo_url"},
	} {
		if s, ok := md.String(p.key); ok && s != "" {
			fmt.Fprintf(&b, "%s: %s\n", p.card, q(s))
		}
	}
	list := func(card string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s:\n", card)
		for _, it := range items {
			fmt.Fprintf(&b, "- %s\n", q(it))
		}
	}
	sources := func(prefix string) []string {
		n, ok := md.Uint(prefix + ".count")
		if !ok {
			return nil
		}
		var out []string
		for i := uint64(0); i < n && i < 1<<16; i++ {
			if u, ok := md.String(fmt.Sprintf("%s.%d.repo_url", prefix, i)); ok {
				out = append(out, u)
			}
		}
		return out
	}
	list("base_model", sources("general.base_model"))
	list("datasets", sources("general.dataset"))
	tags, _ := md.Strings("general.tags")
	list("tags", tags)
	langs, _ := md.Strings("general.languages")
	list("language", langs)
	b.WriteString("---\n\n")
	name, _ := md.String("general.name")
	fmt.Fprintf(&b, "# %s\n\nConverted from GGUF by mcompress (`mcompress convert FILE.gguf --to safetensors`).\n", name)
	return []byte(b.String())
}
