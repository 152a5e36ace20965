package convert

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// SourceTensor describes one tensor of a Hugging Face checkpoint as it appears in the GGUF file
// llama.cpp would write: renamed, in llama.cpp's order, with GGUF dimensions and storage type.
type SourceTensor struct {
	// Name is the GGUF tensor name ("blk.0.attn_q.weight").
	Name string
	// Dims are the GGUF dimensions: Dims[0] is the row length (the last PyTorch dimension).
	Dims []uint64
	// Type is the storage type under the chosen OutType: F32 for 1-D tensors, norms and
	// biases, the output type for the rest.
	Type gguf.TensorType
	// HFName is the checkpoint tensor it comes from; "" for tensors the converter computes
	// (rope_freqs.weight for llama3 RoPE scaling).
	HFName string
	// HFDType is the checkpoint's storage type (F32 for computed tensors).
	HFDType safetensors.DType
	// PermuteHeads is the head count of llama.cpp's q/k row permutation, 0 when none applies.
	PermuteHeads int
	// Shift is added to every value on the way (Gemma's norm weights are stored as w+1), in
	// float32 and rounded back to the checkpoint's type when that is F16, as torch does; 0 when
	// none.
	Shift float32

	entry     safetensors.Entry
	generated []float32
	units     int64 // PyTorch dimension 0 (the permuted axis); 1 for scalars
	unitElems int64 // elements per unit
}

// NumElements returns the number of elements.
func (t SourceTensor) NumElements() int64 { return t.units * t.unitElems }

// Rows returns the number of GGUF rows (the product of Dims[1:]).
func (t SourceTensor) Rows() int64 {
	n := int64(1)
	for _, d := range t.Dims[1:] {
		n *= int64(d)
	}
	return n
}

// Size returns the data size in bytes in Type.
func (t SourceTensor) Size() int64 { return t.NumElements() * outSize(t.Type) }

// InputSize returns the bytes read from the checkpoint for this tensor.
func (t SourceTensor) InputSize() int64 {
	if t.HFName == "" {
		return 0
	}
	return t.entry.Size()
}

// Source streams the tensors of a Hugging Face checkpoint folder in GGUF space, one at a time
// and without holding the model in memory: Metadata and Tensors are exactly what Convert writes,
// and ReadRows/ReadRowsF32 produce the data of any row range of a tensor, already renamed and
// permuted, from the memory-mapped safetensors files. The quantize stage uses it to go from an
// HF folder to a quantized GGUF in one pass. A Source is safe for concurrent reads.
type Source struct {
	// Dir is the checkpoint folder (absolute).
	Dir string
	// Arch is the config.json architecture ("LlamaForCausalLM").
	Arch string
	// Config describes the model (as ConfigFromGGUF would read it back from the output).
	Config Config
	// OutType is the resolved output type (never OutAuto).
	OutType OutType
	// Metadata is the complete GGUF metadata llama.cpp writes for this checkpoint and OutType,
	// in its order.
	Metadata gguf.Metadata
	// Tensors lists the output tensors in llama.cpp's order.
	Tensors []SourceTensor

	ckpt *safetensors.Checkpoint
}

// OpenSource reads the configuration, tokenizer and tensor index of the Hugging Face folder dir
// and plans the conversion. Errors caused by the input wrap ErrBadInput (and
// safetensors.ErrFormat for malformed tensor files) and name the file and the problem.
func OpenSource(dir string, opts Options) (*Source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	hp, err := readConfig(abs)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	archName, a, err := lookupArch(hp)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	fillConfigDefaults(hp, a)
	c, err := configFromHF(hp, a)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	ckpt, err := safetensors.OpenCheckpoint(abs)
	if err != nil {
		return nil, fmt.Errorf("convert: %w: %w", ErrBadInput, err)
	}
	ckpt.AdviseSequential()
	s := &Source{Dir: abs, Arch: archName, ckpt: ckpt}
	if err := s.plan(hp, a, c, opts); err != nil {
		ckpt.Close()
		return nil, fmt.Errorf("convert: %w", err)
	}
	return s, nil
}

// Close releases the memory maps.
func (s *Source) Close() error {
	if s.ckpt == nil {
		return nil
	}
	err := s.ckpt.Close()
	s.ckpt = nil
	return err
}

// InputSize returns the total bytes of checkpoint tensor data the conversion reads.
func (s *Source) InputSize() int64 {
	var n int64
	for _, t := range s.Tensors {
		n += t.InputSize()
	}
	return n
}

// TensorInfos returns the GGUF tensor descriptions of the output.
func (s *Source) TensorInfos() []gguf.TensorInfo {
	out := make([]gguf.TensorInfo, len(s.Tensors))
	for i, t := range s.Tensors {
		out[i] = gguf.TensorInfo{Name: t.Name, Type: t.Type, Dims: append([]uint64(nil), t.Dims...)}
	}
	return out
}

// multimodal reports the tensor names llama.cpp's TextModel skips (vision/audio towers).
func multimodal(name string) bool {
	for _, p := range []string{"mlp", "vit.", "vpm.", "siglip2.", "conformer.", "merger.", "resampler.", "sound_encoder.", "sound_projection.", "speech_embeddings."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, s := range []string{"visual.", "vision.", "audio.", "talker.", "vision_", "audio_", "token2wav.", "code2wav.", "projector.", "pre_mm_projector_norm", "image_newline", "view_seperator", "patch_embed", "patch_embedding", "patch_merger.", "patch_merge_mlp.", "model.connector."} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// isF32Tensor reports whether llama.cpp keeps a tensor in F32 whatever the output type: 1-D
// tensors, norms and anything that is not a .weight (biases).
func isF32Tensor(name string, ndims int) bool {
	return ndims <= 1 || strings.HasSuffix(name, "_norm.weight") || !strings.HasSuffix(name, ".weight")
}

func (s *Source) plan(hp *hparams, a architecture, c Config, opts Options) error {
	entries := s.ckpt.Entries()
	// Resolve "auto" as llama.cpp does: the first 2-D+ tensor stored in BF16 or F16 decides.
	out := opts.OutType
	if out == OutAuto {
		out = OutF16
		for _, e := range entries {
			if len(e.Shape) < 2 {
				continue
			}
			if e.DType == safetensors.BF16 {
				out = OutBF16
				break
			}
			if e.DType == safetensors.F16 {
				break
			}
		}
	}
	s.OutType = out
	weightType, fileType := out.tensorType()
	typeFor := func(name string, ndims int) gguf.TensorType {
		if isF32Tensor(name, ndims) {
			return gguf.TypeF32
		}
		return weightType
	}
	tp, _ := a.(tensorPlanner)
	seen := map[string]string{}
	for _, e := range entries {
		name := strings.ReplaceAll(e.Name, "language_model.", "")
		if a.ggufArch() == "llama" {
			name = strings.ReplaceAll(name, "text_model.", "")
		}
		if multimodal(name) {
			continue
		}
		if tp != nil && tp.skipTensor(name) {
			continue
		}
		if strings.HasSuffix(name, ".attention.masked_bias") || strings.HasSuffix(name, ".attention.bias") || strings.HasSuffix(name, ".rotary_emb.inv_freq") {
			continue
		}
		g := mapTensorName(a, name, c.Layers)
		if g == "" {
			return fmt.Errorf("%w: %s: cannot map tensor %q to a GGUF name for architecture %s (%d layers)",
				ErrBadInput, s.ckpt.Files[e.File].Path, e.Name, a.ggufArch(), c.Layers)
		}
		if prev, dup := seen[g]; dup {
			return fmt.Errorf("%w: tensors %q and %q both map to %q", ErrBadInput, prev, e.Name, g)
		}
		seen[g] = e.Name
		if len(e.Shape) == 0 || len(e.Shape) > gguf.MaxDims {
			return fmt.Errorf("%w: %s: tensor %q has %d dimensions (want 1 to %d)", ErrBadInput, s.ckpt.Files[e.File].Path, e.Name, len(e.Shape), gguf.MaxDims)
		}
		if !decodable(e.DType) {
			return fmt.Errorf("%w: %s: tensor %q: dtype %s cannot be converted to float", ErrBadInput, s.ckpt.Files[e.File].Path, e.Name, e.DType)
		}
		t := SourceTensor{Name: g, HFName: e.Name, HFDType: e.DType, entry: e, units: e.Shape[0], unitElems: 1}
		for _, d := range e.Shape[1:] {
			t.unitElems *= d
		}
		for i := len(e.Shape) - 1; i >= 0; i-- {
			t.Dims = append(t.Dims, uint64(e.Shape[i]))
		}
		t.Type = typeFor(g, len(e.Shape))
		if tp != nil {
			t.Shift = tp.shift(g)
		}
		if a.permuteQK() {
			switch {
			case strings.HasSuffix(name, "q_proj.weight") || strings.HasSuffix(name, "q_proj.bias"):
				t.PermuteHeads = c.Heads
			case strings.HasSuffix(name, "k_proj.weight") || strings.HasSuffix(name, "k_proj.bias"):
				t.PermuteHeads = c.KVHeads
			}
			if h := int64(t.PermuteHeads); h > 0 && (t.units%(2*h) != 0) {
				return fmt.Errorf("%w: tensor %q: %d rows cannot be split into %d heads of pairs", ErrBadInput, e.Name, t.units, h)
			}
		}
		s.Tensors = append(s.Tensors, t)
	}
	if len(s.Tensors) == 0 {
		return fmt.Errorf("%w: %s: no tensors", ErrBadInput, s.Dir)
	}
	// The Config as the runtime reads it back from the GGUF file.
	has := func(n string) bool { _, ok := seen[n]; return ok }
	if !has("token_embd.weight") {
		return fmt.Errorf("%w: %s: no token embedding (model.embed_tokens.weight)", ErrBadInput, s.Dir)
	}
	shapes := make([]tensorShape, len(s.Tensors))
	for i, t := range s.Tensors {
		shapes[i] = tensorShape{name: t.Name, label: t.HFName, dims: t.Dims, shown: t.entry.Shape}
	}
	if err := checkCounts(hp.path, c, shapes, hfCountKeys); err != nil {
		return err
	}
	if a.ggufArch() == "llama" && c.RopeScaling.Type == "llama3" {
		f := llama3RopeFactors(c)
		s.Tensors = append([]SourceTensor{{
			Name: "rope_freqs.weight", Dims: []uint64{uint64(len(f))}, Type: gguf.TypeF32,
			HFDType: safetensors.F32, generated: f, units: int64(len(f)), unitElems: 1,
		}}, s.Tensors...)
	}
	var earlyKeys []gguf.KV
	if tp != nil {
		extra, kvs, err := tp.extraTensors(hp, c)
		if err != nil {
			return err
		}
		s.Tensors = append(extra, s.Tensors...)
		earlyKeys = kvs
	}
	c.TiedEmbeddings = !has("output.weight")
	c.AttentionBias = has("blk.0.attn_q.bias")
	c.QKNorm = has("blk.0.attn_q_norm.weight")
	c.RopeNeoX = !a.permuteQK()
	c.SlidingWindow = 0 // llama.cpp writes no sliding-window key for these families
	// GGUF stores these as float32: keep the values the runtime will read back.
	c.RMSNormEps = float64(float32(c.RMSNormEps))
	c.RopeTheta = float64(float32(c.RopeTheta))
	c.RopeScaling.Factor = float64(float32(c.RopeScaling.Factor))
	var total int64
	for _, t := range s.Tensors {
		total += t.NumElements()
	}
	// Metadata, in llama.cpp's order.
	md := &mdBuilder{arch: a.ggufArch()}
	md.str("general.architecture", a.ggufArch())
	for _, kv := range earlyKeys {
		md.set(kv.Key, kv.Value)
	}
	md.str("general.type", "model")
	samplingParams(md, s.Dir)
	g, err := loadGeneralInfo(s.Dir, hp, total)
	if err != nil {
		return err
	}
	if opts.Name != "" {
		g.name = opts.Name
	}
	if g.name == "" {
		g.name = filepath.Base(s.Dir)
	}
	c.Name = g.name
	g.write(md)
	_, own := a.(ownParams)
	if !own {
		if err := commonParams(md, hp, c, a.defaults(), fileType, opts); err != nil {
			return err
		}
	}
	if err := a.params(md, hp, c); err != nil {
		return err
	}
	if own {
		md.u32("general.file_type", int(fileType)) // the family's params placed it (as 0)
	}
	md.u32("general.quantization_version", 2)
	if err := a.vocab(md, s.Dir, hp, c, opts); err != nil {
		return err
	}
	if v, ok := md.md.Uint("tokenizer.ggml.bos_token_id"); ok {
		c.BOS = int(v)
	}
	if v, ok := md.md.Uint("tokenizer.ggml.eos_token_id"); ok {
		c.EOS = int(v)
	}
	if e, ok := a.(extendedArch); ok {
		e.configFromGGUF(&c, md.md, s.TensorInfos())
	}
	s.Config = c
	s.Metadata = md.md
	return nil
}

// llama3RopeFactors computes the rope_freqs tensor llama.cpp writes for llama3 RoPE scaling,
// replaying torch's float32 arithmetic: Python floats meet float32 tensors as float32 values,
// Python-only expressions (old/low, high-low) are evaluated in float64 first.
func llama3RopeFactors(c Config) []float32 {
	rs := c.RopeScaling
	base := float32(c.RopeTheta)
	dim := c.HeadDim
	factor := float32(rs.Factor)
	low := float32(rs.LowFreqFactor)
	old := float32(rs.OriginalContext)
	lowWave := float32(float64(rs.OriginalContext) / rs.LowFreqFactor)
	highWave := float32(float64(rs.OriginalContext) / rs.HighFreqFactor)
	span := float32(rs.HighFreqFactor - rs.LowFreqFactor)
	twoPi := float32(2 * math.Pi)
	out := make([]float32, 0, dim/2)
	for i := 0; i < dim; i += 2 {
		exp := float32(i) / float32(dim)
		freq := 1 / float32(math.Pow(float64(base), float64(exp)))
		wavelen := twoPi / freq
		switch {
		case wavelen < highWave:
			out = append(out, 1)
		case wavelen > lowWave:
			out = append(out, factor)
		default:
			smooth := (old/wavelen - low) / span
			out = append(out, 1/((1-smooth)/factor+smooth))
		}
	}
	return out
}

// errReadRange reports an invalid row range.
var errReadRange = errors.New("row range out of bounds")

// unitRange maps GGUF rows [r0, r1) of t to permutation units.
func (t *SourceTensor) unitRange(r0, r1 int64) (int64, int64, error) {
	rows := t.Rows()
	if r0 < 0 || r1 > rows || r0 > r1 {
		return 0, 0, fmt.Errorf("convert: tensor %q: rows [%d, %d) of %d: %w", t.Name, r0, r1, rows, errReadRange)
	}
	if len(t.Dims) == 1 {
		if r0 == r1 {
			return 0, 0, nil
		}
		return 0, t.units, nil
	}
	per := rows / max(t.units, 1) // GGUF rows per unit (1 for 2-D tensors)
	if per == 0 || r0%per != 0 || r1%per != 0 {
		return 0, 0, fmt.Errorf("convert: tensor %q: rows [%d, %d) do not cover whole slices of dimension 0: %w", t.Name, r0, r1, errReadRange)
	}
	return r0 / per, r1 / per, nil
}

// srcUnit returns the source bytes of unit u after the q/k permutation (output unit u comes
// from source unit perm(u)).
func (s *Source) srcUnit(t *SourceTensor, data []byte, u int64) []byte {
	src := u
	if h := int64(t.PermuteHeads); h > 0 {
		d := t.units / h
		head, r := u/d, u%d
		j, half := r/2, r%2
		src = head*d + half*(d/2) + j
	}
	ub := t.unitElems * int64(t.HFDType.Size())
	return data[src*ub : (src+1)*ub]
}

// convertUnits writes units [u0, u1) of tensor t in its Type into dst.
func (s *Source) convertUnits(t *SourceTensor, u0, u1 int64, dst []byte, scratch []float32) {
	if t.generated != nil {
		encodeFrom(dst, t.generated[u0*t.unitElems:u1*t.unitElems], t.Type)
		return
	}
	data := s.ckpt.Data(t.entry)
	ub := t.unitElems * outSize(t.Type)
	if t.Shift != 0 {
		vals := make([]float32, (u1-u0)*t.unitElems)
		s.shifted(t, data, u0, u1, vals)
		encodeFrom(dst[:(u1-u0)*ub], vals, t.Type)
		return
	}
	if t.PermuteHeads == 0 {
		in := t.unitElems * int64(t.HFDType.Size())
		convertElems(dst[:(u1-u0)*ub], t.Type, data[u0*in:u1*in], t.HFDType, scratch)
		return
	}
	for u := u0; u < u1; u++ {
		convertElems(dst[(u-u0)*ub:(u-u0+1)*ub], t.Type, s.srcUnit(t, data, u), t.HFDType, scratch)
	}
}

// ReadRows returns GGUF rows [r0, r1) of tensor i in its storage Type (little-endian), appended
// to dst[:0]. For 2-D tensors rows are PyTorch rows; 1-D tensors have a single row; tensors with
// more dimensions are read in whole slices of their first PyTorch dimension.
func (s *Source) ReadRows(i int, r0, r1 int64, dst []byte) ([]byte, error) {
	if i < 0 || i >= len(s.Tensors) {
		return nil, fmt.Errorf("convert: tensor index %d out of range", i)
	}
	t := &s.Tensors[i]
	u0, u1, err := t.unitRange(r0, r1)
	if err != nil {
		return nil, err
	}
	n := (u1 - u0) * t.unitElems * outSize(t.Type)
	if int64(cap(dst)) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	s.convertUnits(t, u0, u1, dst, make([]float32, min(max(t.unitElems, 1), 1<<14)))
	return dst, nil
}

// ReadRowsF32 returns GGUF rows [r0, r1) of tensor i as float32 values (before narrowing to the
// output type), appended to dst[:0]. This is what a quantizer consumes.
func (s *Source) ReadRowsF32(i int, r0, r1 int64, dst []float32) ([]float32, error) {
	if i < 0 || i >= len(s.Tensors) {
		return nil, fmt.Errorf("convert: tensor index %d out of range", i)
	}
	t := &s.Tensors[i]
	u0, u1, err := t.unitRange(r0, r1)
	if err != nil {
		return nil, err
	}
	n := (u1 - u0) * t.unitElems
	if int64(cap(dst)) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	if t.generated != nil {
		copy(dst, t.generated[u0*t.unitElems:u1*t.unitElems])
		return dst, nil
	}
	data := s.ckpt.Data(t.entry)
	in := t.unitElems * int64(t.HFDType.Size())
	if t.Shift != 0 {
		s.shifted(t, data, u0, u1, dst)
		return dst, nil
	}
	if t.PermuteHeads == 0 {
		decodeF32(dst, data[u0*in:u1*in], t.HFDType)
		return dst, nil
	}
	for u := u0; u < u1; u++ {
		decodeF32(dst[(u-u0)*t.unitElems:(u-u0+1)*t.unitElems], s.srcUnit(t, data, u), t.HFDType)
	}
	return dst, nil
}

// shifted decodes units [u0, u1) of t (not permuted) into dst with t.Shift added as llama.cpp's
// converter adds it: torch keeps F16 checkpoints in F16 (so the sum is rounded to F16) and widens
// every other type to float32 first.
func (s *Source) shifted(t *SourceTensor, data []byte, u0, u1 int64, dst []float32) {
	in := t.unitElems * int64(t.HFDType.Size())
	decodeF32(dst, data[u0*in:u1*in], t.HFDType)
	for i, v := range dst {
		v += t.Shift
		if t.HFDType == safetensors.F16 {
			v = dtype.F16ToF32(dtype.F32ToF16(v))
		}
		dst[i] = v
	}
}

// releaseRange drops the pages of source bytes [off, end) of tensor i.
func (s *Source) releaseRange(i int, off, end int64) {
	if s.Tensors[i].HFName != "" && s.ckpt != nil {
		s.ckpt.ReleaseRange(s.Tensors[i].entry, off, end)
	}
}

// Release drops the resident pages of tensor i's source data once it has been consumed, keeping
// the resident set bounded while streaming through a large checkpoint.
func (s *Source) Release(i int) {
	if i >= 0 && i < len(s.Tensors) && s.Tensors[i].HFName != "" && s.ckpt != nil {
		s.ckpt.Release(s.Tensors[i].entry)
	}
}
