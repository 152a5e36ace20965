package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/mcompress/mcompress/calibrate"
	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// quantizeMethod is how quantize encodes each tensor (--method).
type quantizeMethod struct {
	gptq, search bool
}

// parseQuantizeMethod reads --method: plain (llama.cpp's quantizers), search, gptq or
// gptq+search.
func parseQuantizeMethod(s string) (quantizeMethod, error) {
	switch strings.ToLower(s) {
	case "", "plain":
		return quantizeMethod{}, nil
	case "search":
		return quantizeMethod{search: true}, nil
	case "gptq":
		return quantizeMethod{gptq: true}, nil
	case "gptq+search", "search+gptq":
		return quantizeMethod{gptq: true, search: true}, nil
	}
	return quantizeMethod{}, fmt.Errorf("--method %q: want plain, search, gptq or gptq+search", s)
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
		return nil, quantizeError(err)
	}
	md, infos := src.Metadata(), src.Tensors()
	cfg, err := convert.ConfigFromGGUF(md, infos)
	if err != nil {
		return nil, badInput(fmt.Errorf("gptq: %w", err))
	}
	tensors := make(map[string]runtime.Tensor, len(infos))
	for i, info := range infos {
		data, err := src.TensorData(i)
		if err != nil {
			return nil, fmt.Errorf("gptq: tensor %q: %w", info.Name, err)
		}
		x := make([]float32, info.NumElements())
		if err := quantize.Dequantize(info.Type, x, data); err != nil {
			return nil, quantizeError(fmt.Errorf("gptq: tensor %q: %w", info.Name, err))
		}
		dims := make([]int, len(info.Dims))
		for j, d := range info.Dims {
			dims[j] = int(d)
		}
		tensors[info.Name] = runtime.Tensor{Dims: dims, Data: x}
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
		return nil, quantizeError(err)
	}
	return pre, nil
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
