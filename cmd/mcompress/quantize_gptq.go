package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/calibrate"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// quantizeMethod is how quantize encodes each tensor (--method).
type quantizeMethod struct {
	gptq, search, auto bool
}

// parseQuantizeMethod reads --method: plain (llama.cpp's quantizers) or a '+'-joined set of
// search, gptq and auto, such as gptq+search or auto+gptq.
func parseQuantizeMethod(s string) (quantizeMethod, error) {
	var m quantizeMethod
	if s == "" || strings.EqualFold(s, "plain") {
		return m, nil
	}
	for _, part := range strings.Split(strings.ToLower(s), "+") {
		switch part {
		case "search":
			m.search = true
		case "gptq":
			m.gptq = true
		case "auto":
			m.auto = true
		default:
			return m, fmt.Errorf("--method %q: want plain, or search, gptq and auto joined by '+' (such as gptq+search)", s)
		}
	}
	return m, nil
}

// gptqFlags are quantize's calibration options for --method gptq.
type gptqFlags struct {
	calib           string
	samples, ctxLen int
	actOrder        bool
	sequential      bool
	damp            float64
	threads         int
	logf            func(format string, args ...any)
	progress        func(done, total int64)
}

// gptqWeight matches the names of the matrices GPTQ handles: the transformer blocks' and the
// output head.
var gptqWeight = regexp.MustCompile(`^(blk\.\d+\.|output\.weight$)`)

// runGPTQ quantizes the block matrices of src with GPTQ, calibrated on the text at f.calib,
// and returns their bytes for quantize.Options.Prequantized.
func runGPTQ(ctx context.Context, src quantize.Source, opts quantize.Options, f gptqFlags) (map[string][]byte, error) {
	if f.calib == "" {
		return nil, badInput(fmt.Errorf("--method gptq needs calibration text (--calib)"))
	}
	if f.samples <= 0 || f.ctxLen < 2 {
		return nil, badInput(fmt.Errorf("--calib-samples must be positive and --calib-len at least 2"))
	}
	plan, err := quantize.MakePlan(src, opts)
	if err != nil {
		return nil, err
	}
	md := src.Metadata()
	cfg, tensors, err := floatModel(src)
	if err != nil {
		return nil, err
	}
	seqs, err := calibrationChunks(md, f.calib, f.samples, f.ctxLen)
	if err != nil {
		return nil, err
	}
	o := calibrate.GPTQOptions{
		Types:      map[string]gguf.TensorType{},
		Imatrix:    map[string][]float32{},
		Method:     quantize.GPTQOptions{ActOrder: f.actOrder, Damp: f.damp, Search: opts.Search, Threads: f.threads},
		Threads:    f.threads,
		Sequential: f.sequential,
		Progress:   f.progress,
	}
	for _, p := range plan.Tensors {
		if !p.Convert() || len(p.Dims) != 2 || !gptqWeight.MatchString(p.Name) {
			continue
		}
		if _, ok := quantize.LookupGrid(p.To); !ok {
			continue
		}
		o.Types[p.Name] = p.To
		if p.Imatrix != nil {
			o.Imatrix[p.Name] = p.Imatrix
		}
	}
	f.logf("gptq: %d matrices in %d blocks, %d calibration sequences of %d tokens", len(o.Types), cfg.Layers, len(seqs), f.ctxLen)
	pre, err := calibrate.GPTQ(ctx, cfg, tensors, seqs, o)
	if err != nil {
		return nil, err
	}
	return pre, nil
}

// floatModel decodes every tensor of src to float32 for runtime.FromTensors.
func floatModel(src quantize.Source) (convert.Config, map[string]runtime.Tensor, error) {
	md, infos := src.Metadata(), src.Tensors()
	cfg, err := convert.ConfigFromGGUF(md, infos)
	if err != nil {
		return cfg, nil, badInput(fmt.Errorf("calibration: %w", err))
	}
	tensors := make(map[string]runtime.Tensor, len(infos))
	for i, info := range infos {
		data, err := src.TensorData(i)
		if err != nil {
			return cfg, nil, fmt.Errorf("calibration: tensor %q: %w", info.Name, err)
		}
		x := make([]float32, info.NumElements())
		if err := quantize.Dequantize(info.Type, x, data); err != nil {
			return cfg, nil, fmt.Errorf("calibration: tensor %q: %w", info.Name, err)
		}
		dims := make([]int, len(info.Dims))
		for j, d := range info.Dims {
			dims[j] = int(d)
		}
		tensors[info.Name] = runtime.Tensor{Dims: dims, Data: x}
	}
	return cfg, tensors, nil
}

// autoTypes are the types --method auto chooses among.
var autoTypes = []gguf.TensorType{gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeQ8_0}

// autoRules measures, for every matrix with a calibration input (the blocks' and the output
// head), its output error at each of autoTypes on the calibration text, and returns
// --tensor-type rules that allocate the types so that the file has about bpw bits per weight
// (quantize.Allocate). Other tensors keep the mix's types and count at their size.
func autoRules(ctx context.Context, src quantize.Source, opts quantize.Options, f gptqFlags, bpw float64) ([]quantize.TensorTypeRule, error) {
	if f.calib == "" {
		return nil, badInput(fmt.Errorf("--method auto needs calibration text (--calib)"))
	}
	if bpw <= 0 {
		return nil, badInput(fmt.Errorf("--method auto needs --target-bpw"))
	}
	plan, err := quantize.MakePlan(src, opts)
	if err != nil {
		return nil, err
	}
	cfg, tensors, err := floatModel(src)
	if err != nil {
		return nil, err
	}
	seqs, err := calibrationChunks(src.Metadata(), f.calib, f.samples, f.ctxLen)
	if err != nil {
		return nil, err
	}
	grams := &calibrate.Gram{Threads: f.threads, Select: func(w string) bool { return w != "token_embd.weight" }}
	col := calibrate.New(grams)
	m, err := runtime.FromTensors(cfg, tensors, nil, runtime.Options{Threads: f.threads, ActivationObserver: col.Observe})
	if err != nil {
		return nil, fmt.Errorf("auto: %w", err)
	}
	err = calibrate.Run(ctx, m, seqs, calibrate.RunOptions{Logits: true})
	m.Close()
	if err != nil {
		return nil, fmt.Errorf("auto: %w", err)
	}
	byWeight := map[string]*quantize.Gram{}
	for _, g := range grams.Grams() {
		for _, w := range g.Weights {
			byWeight[w] = g
		}
	}
	var cands []quantize.AutoTensor
	var fixed, weights int64
	for _, p := range plan.Tensors {
		info := gguf.TensorInfo{Name: p.Name, Type: p.To, Dims: p.Dims}
		weights += int64(info.NumElements())
		g := byWeight[p.Name]
		if g == nil || !p.Convert() || len(p.Dims) != 2 || int(p.Dims[0]) != g.N {
			fixed += int64(info.Size())
			continue
		}
		cs, err := quantize.MeasureChoices(tensors[p.Name].Data, g.N, g.Sum, g.Count, p.Imatrix, autoTypes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		cands = append(cands, quantize.AutoTensor{Name: p.Name, Choices: cs})
	}
	budget := int64(bpw*float64(weights)/8) - fixed
	types, used, err := quantize.Allocate(cands, budget)
	if err != nil {
		return nil, err
	}
	f.logf("auto: %d matrices allocated in %.2f MiB (%.2f MiB fixed) for %.2f bits per weight", len(types), float64(used)/(1<<20), float64(fixed)/(1<<20), bpw)
	return quantize.AutoRules(types), nil
}

// calibrationChunks tokenizes the text at path with the model's tokenizer and cuts it into at
// most n chunks of ctxLen tokens, the first token of each replaced by BOS when the vocabulary
// adds one (as llama-imatrix does).
func calibrationChunks(md gguf.Metadata, path string, n, ctxLen int) ([][]int32, error) {
	text, err := eval.ReadText(path, datasets.Options{})
	if err != nil {
		return nil, badInput(err)
	}
	tok, err := tokenizer.FromGGUF(md)
	if err != nil {
		return nil, badInput(fmt.Errorf("gptq: the model's tokenizer: %w", err))
	}
	ids, err := tok.Encode(text, tokenizer.EncodeOptions{AddSpecial: true})
	if err != nil {
		return nil, badInput(fmt.Errorf("gptq: tokenizing %s: %w", path, err))
	}
	var seqs [][]int32
	for i := 0; i+ctxLen <= len(ids) && len(seqs) < n; i += ctxLen {
		s := append([]int32{}, ids[i:i+ctxLen]...)
		if tok.AddBOS() && tok.BOS() >= 0 {
			s[0] = tok.BOS()
		}
		seqs = append(seqs, s)
	}
	if len(seqs) == 0 {
		return nil, badInput(fmt.Errorf("gptq: %s has %d tokens, fewer than one chunk of %d (--calib-len)", path, len(ids), ctxLen))
	}
	return seqs, nil
}
