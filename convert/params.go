package convert

import (
	"fmt"
	"strings"
)

// The config.json keys llama.cpp tries, in order, for each hyperparameter (find_hparam).
var (
	keysLayers  = []string{"n_layers", "num_hidden_layers", "n_layer", "num_layers"}
	keysContext = []string{"max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"}
	keysHidden  = []string{"hidden_size", "n_embd", "dim"}
	keysFFN     = []string{"prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size", "n_inner", "hidden_dim"}
	keysHeads   = []string{"num_attention_heads", "n_head", "n_heads"}
	keysKVHeads = []string{"num_key_value_heads", "n_kv_heads"}
	keysRMSEps  = []string{"rms_norm_eps", "norm_eps"}
	keysLNEps   = []string{"layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"}
	keysTheta   = []string{"global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"}
	keysExperts = []string{"num_local_experts", "num_experts", "n_routed_experts"}
)

// ropeParameters returns llama.cpp's view of the RoPE settings: config.json's rope_parameters or
// rope_scaling object, with rope_theta, rope_type, partial_rotary_factor and
// original_max_position_embeddings mirrored in from the top level (rope_theta defaulting to
// transformers' default), and the "full_attention" sub-object when there is one.
func ropeParameters(hp *hparams, def hfDefaults) *hparams {
	src := hp.obj("rope_parameters")
	if src == nil {
		src = hp.obj("rope_scaling")
	}
	m := map[string]any{}
	path := hp.path
	if src != nil {
		for k, v := range src.m {
			m[k] = v
		}
		path = src.path
	}
	rp := &hparams{path: path, m: m}
	if !rp.has("full_attention") && !rp.has("sliding_attention") {
		if !rp.has("rope_theta") {
			if k, ok := hp.find(keysTheta...); ok {
				m["rope_theta"] = hp.raw(k)
			} else {
				m["rope_theta"] = def.ropeTheta
			}
		}
		if !rp.has("rope_type") && rp.has("type") {
			m["rope_type"] = m["type"]
		}
		if !rp.has("partial_rotary_factor") && hp.has("partial_rotary_factor") {
			m["partial_rotary_factor"] = hp.raw("partial_rotary_factor")
		}
		if !rp.has("original_max_position_embeddings") && hp.has("original_max_position_embeddings") {
			m["original_max_position_embeddings"] = hp.raw("original_max_position_embeddings")
		}
	}
	if fa := rp.obj("full_attention"); fa != nil {
		return fa
	}
	return rp
}

// keysLocalTheta are the config.json keys of the sliding-window layers' RoPE base.
var keysLocalTheta = []string{"local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta", "rope_local_base_freq"}

// localRopeTheta returns the RoPE base of the sliding-window layers as llama.cpp finds it:
// rope_parameters.sliding_attention.rope_theta, else (when rope_parameters is not split by
// attention type) the first of keysLocalTheta.
func localRopeTheta(hp *hparams) (float64, bool, error) {
	src := hp.obj("rope_parameters")
	if src == nil {
		src = hp.obj("rope_scaling")
	}
	var v any
	if src != nil && (src.has("full_attention") || src.has("sliding_attention")) {
		v = src.obj("sliding_attention").raw("rope_theta")
	} else if k, ok := hp.find(keysLocalTheta...); ok {
		v = hp.raw(k)
	}
	if v == nil {
		return 0, false, nil
	}
	f, ok := numberOf(v)
	if !ok {
		return 0, false, fmt.Errorf("%w: %s: local RoPE theta %v is not a number", ErrBadInput, hp.path, v)
	}
	return f, true, nil
}

// numberOf reads a float from a value that may be a JSON number or a Go float64 default.
func numberOf(v any) (float64, bool) {
	if f, ok := v.(float64); ok {
		return f, true
	}
	return floatOf(v)
}

// ropeScaling reads the scaling part of the RoPE parameters into a RopeScaling.
func ropeScaling(rp *hparams) (RopeScaling, error) {
	t, _ := rp.raw("rope_type").(string)
	var rs RopeScaling
	switch strings.ToLower(t) {
	case "linear", "yarn", "llama3":
		rs.Type = strings.ToLower(t)
	default:
		return rs, nil
	}
	var err error
	def := 0.0
	if rs.Type == "llama3" {
		def = 8
	}
	if rs.Factor, err = rp.floatOr("factor", def); err != nil {
		return rs, err
	}
	if rs.Type == "linear" && !rp.has("factor") {
		return RopeScaling{}, nil // llama.cpp ignores linear scaling without a factor
	}
	origDef := 0
	if rs.Type == "llama3" {
		origDef = 8192
	}
	if rs.OriginalContext, err = rp.intOr("original_max_position_embeddings", origDef); err != nil {
		return rs, err
	}
	if rs.Type == "llama3" {
		if rs.LowFreqFactor, err = rp.floatOr("low_freq_factor", 1); err != nil {
			return rs, err
		}
		if rs.HighFreqFactor, err = rp.floatOr("high_freq_factor", 4); err != nil {
			return rs, err
		}
	}
	return rs, nil
}

// commonParams writes the keys of llama.cpp's TextModel.set_gguf_parameters, in its order.
func commonParams(md *mdBuilder, hp *hparams, c Config, def hfDefaults, fileType uint32, opts Options) error {
	md.u32(md.key("block_count"), c.Layers)
	md.u32(md.key("context_length"), c.ContextLength)
	md.u32(md.key("embedding_length"), c.Hidden)
	md.u32(md.key("feed_forward_length"), c.FFN)
	md.u32(md.key("attention.head_count"), c.Heads)
	md.u32(md.key("attention.head_count_kv"), c.KVHeads)
	if b, ok := hp.raw("is_causal").(bool); ok && !b {
		md.boolean(md.key("attention.causal"), false)
	}
	rp := ropeParameters(hp, def)
	if t, ok := rp.raw("rope_type").(string); ok {
		factor, hasFactor := numberOf(rp.raw("factor"))
		switch {
		case t == "linear" && hasFactor:
			md.str(md.key("rope.scaling.type"), "linear")
			md.f32(md.key("rope.scaling.factor"), factor)
		case t == "yarn" && hasFactor:
			md.str(md.key("rope.scaling.type"), "yarn")
			md.f32(md.key("rope.scaling.factor"), factor)
			orig, err := rp.int("original_max_position_embeddings")
			if err != nil {
				return err
			}
			md.u32(md.key("rope.scaling.original_context_length"), orig)
			for _, kv := range []struct {
				src []string
				dst string
			}{
				{[]string{"extrapolation_factor"}, "rope.scaling.yarn_ext_factor"},
				{[]string{"attention_factor", "attn_factor"}, "rope.scaling.yarn_attn_factor"},
				{[]string{"beta_fast"}, "rope.scaling.yarn_beta_fast"},
				{[]string{"beta_slow"}, "rope.scaling.yarn_beta_slow"},
			} {
				if k, ok := rp.find(kv.src...); ok {
					f, err := rp.floatOr(k, 0)
					if err != nil {
						return err
					}
					md.f32(md.key(kv.dst), f)
				}
			}
		case t == "su" || t == "longrope":
			md.str(md.key("rope.scaling.type"), "longrope")
		case t == "dynamic" || strings.EqualFold(t, "llama3") || t == "default" || t == "linear" || t == "yarn":
			// llama3 is written as the rope_freqs tensor; the rest need no key.
		default:
			opts.warnf("%s: unknown RoPE type %q ignored", rp.path, t)
		}
	}
	md.f32(md.key("rope.freq_base"), c.RopeTheta)
	if theta, ok, err := localRopeTheta(hp); err != nil {
		return err
	} else if ok {
		md.f32(md.key("rope.freq_base_swa"), theta)
	}
	md.f32(md.key("attention.layer_norm_rms_epsilon"), c.RMSNormEps)
	if k, ok := hp.find(keysLNEps...); ok {
		eps, err := hp.floatOr(k, 0)
		if err != nil {
			return err
		}
		md.f32(md.key("attention.layer_norm_epsilon"), eps)
	}
	if hp.has("head_dim") {
		md.u32(md.key("attention.key_length"), c.HeadDim)
		md.u32(md.key("attention.value_length"), c.HeadDim)
	}
	md.u32("general.file_type", int(fileType))
	return nil
}
