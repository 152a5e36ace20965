package tokenizer

import (
	"fmt"
	"sort"
	"sync"
)

// Pre-tokenizer patterns, as llama.cpp's llm_tokenizer_bpe lists them for each
// tokenizer.ggml.pre. A pattern that one of the hand-written splitters implements (see
// customSplitters) runs there; any other runs on the regex engine in regex.go.
const (
	patGPT2     = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
	patLlama3   = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patLlama3I  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patQwen2    = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patQwen35   = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patHan      = `\p{Han}+`
	patAFMoE    = `\p{AFMoE_digits}`
	patNewlines = "[^\\n]+|[\\n]+"
	patTinyAya  = `\d{1,3}(?=(?:\d{3})*\b)`

	patContractions = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`
	patPoro         = " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+"
	patCJK          = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"
	patJapaneseCJK  = "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+"
	patDeepseek3    = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
	patGPT4O        = `[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+` + patContractions + `?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*` + patContractions + `?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patLetterCase   = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` + patContractions + `?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` + patContractions + `?|`
)

// preTokenizers maps a pre-tokenizer kind to its patterns, applied in order.
var preTokenizers = map[string][]string{
	"default": {`[\p{P}\$\+<=>\^~\|]+`, patGPT2, `\p{N}+`, `[0-9][0-9][0-9]`},
	"llama3":  {patLlama3},
	"jais2":   {patContractions + `|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}`},
	"deepseek-llm": {
		"[\r\n]",
		"\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+",
		"\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
		"\\s+$",
		patCJK,
		`\p{N}+`,
	},
	"deepseek-v3": {`\p{N}{1,3}`, patJapaneseCJK, patDeepseek3},
	"youtu": {
		"[\uAC00-\uD7A3\u3131-\u318E]+|[\uFF01\u2026\u201C\u201D\u2018\u2019\u2014\uFF1A\uFF1B\uFF0C\u3001-\u303F\uFE30-\uFE4F]+|[\u3105-\u312F]+|[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
		patLetterCase + `\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	},
	"deepseek-coder": {"[\r\n]", `\s?\p{L}+`, `\s?\p{P}+`, patCJK, `\p{N}`},
	"falcon":         {`[\p{P}\$\+<=>\^~\|` + "`" + `]+`, patGPT2, `[0-9][0-9][0-9]`},
	"starcoder":      {`\p{N}`, patGPT2},
	"gpt2":           {patGPT2},
	"qwen2":          {patQwen2},
	"qwen35":         {patQwen35},
	"poro":           {patPoro},
	"viking":         {patPoro, `\p{N}`},
	"tekken":         {`[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`},
	"chameleon": {
		`<sentinel:[0-9]+>`,
		`(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z`,
		`([\t\n]|    |  )`,
		`\p{N}`,
		`[\p{P}!-/:-@\[-` + "`" + `{-~]`,
		patGPT2,
	},
	"gpt-4o":            {patGPT4O},
	"granite-emb-multi": {`[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+` + patContractions + `?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*` + patContractions + `?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`},
	"tiny-aya":          {patTinyAya, patLetterCase + `\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`},
	"kimi-k2":           {patHan},
	"superbpe":          {`\p{N}+`, `(?=(\d{3})+(?!\d))`},
	"bailingmoe":        {`'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`},
	"seed-coder":        {patContractions + `|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+`},
	"afmoe": {
		patAFMoE,
		"[\u4E00-\u9FFF\u3400-\u4DBF\u8C48-\uFAFF\u3040-\u309F\u30A0-\u30FF\uFF65-\uFF9F\u2F00-\u2FDF\u0E40-\u0E7F\u0E80-\u0EFF\u1780-\u17FF\u1000-\u109F\uAA60-\uAA7F\uA9E0-\uA9FF\uAC00-\uD7AF\u1100-\u11FF]+",
		"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
	},
	"laguna":     {patNewlines, patQwen2},
	"exaone-moe": {patContractions + `|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+`},
	"newlines":   {patNewlines},
	"minicpm5":   {`\p{N}{1,3}`, patContractions + `|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`},
	"whitespace": {`\S+`},
}

// preSpec is what a tokenizer.ggml.pre name selects: the pattern list (a key of
// preTokenizers) and the flags llama.cpp sets along with it.
type preSpec struct {
	kind         string
	ignoreMerges bool // a word that is a whole token skips the merges
	keepSpaces   bool // clean_spaces off: decoding leaves " ." and " 's" alone
	addBOS       bool // add_bos defaults to true (add_bos_token may still turn it off)
	forceBOS     bool // add_bos is on whatever add_bos_token says (Gemma 4)
	noBOS        bool // the default BOS id is dropped (ChatGLM)
	rawBytes     bool // no GPT-2 byte encoding: BPE runs on UTF-8 with <0xNN> byte tokens
	escapeSpaces bool // spaces become U+2581 before BPE (SentencePiece-style BPE)
	wholeNewline bool // a run of newlines that is a token skips the merges (Gemma 4)
}

// preSpecs maps every tokenizer.ggml.pre value llama.cpp accepts for BPE vocabularies.
var preSpecs = func() map[string]preSpec {
	m := map[string]preSpec{}
	set := func(s preSpec, names ...string) {
		for _, n := range names {
			m[n] = s
		}
	}
	set(preSpec{kind: "default"}, "default")
	set(preSpec{kind: "minicpm5", ignoreMerges: true}, "minicpm5")
	set(preSpec{kind: "llama3", ignoreMerges: true, addBOS: true},
		"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano")
	set(preSpec{kind: "deepseek-llm", keepSpaces: true}, "deepseek-llm")
	set(preSpec{kind: "deepseek-coder", keepSpaces: true}, "deepseek-coder")
	set(preSpec{kind: "deepseek-v3", keepSpaces: true}, "deepseek-v3", "hunyuan-dense", "joyai-llm")
	set(preSpec{kind: "youtu", keepSpaces: true, ignoreMerges: true}, "youtu")
	set(preSpec{kind: "falcon"}, "falcon")
	set(preSpec{kind: "gpt2"}, "mpt", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
		"a.x-4.0", "mellum", "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "olmo", "jais")
	set(preSpec{kind: "gpt2", keepSpaces: true}, "trillion", "granite-docling")
	set(preSpec{kind: "starcoder"}, "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2")
	set(preSpec{kind: "starcoder", keepSpaces: true}, "command-r", "smollm")
	set(preSpec{kind: "jais2"}, "jais-2")
	set(preSpec{kind: "newlines", rawBytes: true, escapeSpaces: true, forceBOS: true, wholeNewline: true}, "gemma4", "granite-embed-multi-311m")
	set(preSpec{kind: "newlines", rawBytes: true, escapeSpaces: true, keepSpaces: true}, "sarvam-moe")
	set(preSpec{kind: "whitespace", rawBytes: true}, "whitespace")
	set(preSpec{kind: "qwen2", keepSpaces: true}, "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2")
	set(preSpec{kind: "qwen2"}, "stablelm2", "megrez")
	set(preSpec{kind: "qwen35", keepSpaces: true}, "qwen35")
	set(preSpec{kind: "llama3"}, "dbrx", "smaug-bpe")
	set(preSpec{kind: "poro", keepSpaces: true}, "poro-chat")
	set(preSpec{kind: "poro"}, "bloom", "gpt3-finnish")
	set(preSpec{kind: "llama3", noBOS: true}, "glm4", "chatglm-bpe")
	set(preSpec{kind: "viking", keepSpaces: true}, "viking")
	set(preSpec{kind: "tekken", keepSpaces: true, ignoreMerges: true, addBOS: true}, "tekken")
	set(preSpec{kind: "chameleon", keepSpaces: true, addBOS: true}, "chameleon")
	set(preSpec{kind: "exaone-moe"}, "exaone-moe")
	set(preSpec{kind: "gpt-4o", keepSpaces: true}, "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2")
	set(preSpec{kind: "granite-emb-multi", keepSpaces: true, ignoreMerges: true}, "granite-embed-multi-97m")
	set(preSpec{kind: "tiny-aya", keepSpaces: true}, "tiny_aya", "cohere2moe")
	set(preSpec{kind: "superbpe", keepSpaces: true}, "superbpe")
	set(preSpec{kind: "bailingmoe", keepSpaces: true}, "bailingmoe", "bailingmoe2", "llada-moe")
	set(preSpec{kind: "seed-coder", keepSpaces: true}, "seed-coder")
	set(preSpec{kind: "kimi-k2", keepSpaces: true}, "kimi-k2")
	set(preSpec{kind: "afmoe", keepSpaces: true}, "afmoe")
	set(preSpec{kind: "laguna", keepSpaces: true}, "laguna")
	return m
}()

// PreTokenizers returns the tokenizer.ggml.pre values this package knows, sorted.
func PreTokenizers() []string {
	out := make([]string, 0, len(preSpecs))
	for k := range preSpecs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// splitStep is one stage of a pre-tokenizer: a hand-written splitter or a compiled pattern.
type splitStep struct {
	custom splitterFunc
	re     *compiledRegex
}

// customSplitters maps the patterns llama.cpp replaces with hand-written code.
var customSplitters = map[string]splitterFunc{
	patGPT2:     splitGPT2,
	patLlama3:   llama3Splitter(3, false),
	patLlama3I:  llama3Splitter(3, false),
	patQwen2:    llama3Splitter(1, false),
	patQwen35:   llama3Splitter(1, true),
	patHan:      splitKimiK2,
	patAFMoE:    splitDigitGroups,
	patNewlines: splitNewlines,
	patTinyAya:  splitDigitGroups,
}

var (
	stepCacheMu sync.Mutex
	stepCache   = map[string][]splitStep{}
)

// stepsFor returns the compiled stages of a pre-tokenizer kind (compiled once, then shared).
func stepsFor(kind string) ([]splitStep, error) {
	stepCacheMu.Lock()
	defer stepCacheMu.Unlock()
	if s, ok := stepCache[kind]; ok {
		return s, nil
	}
	pats, ok := preTokenizers[kind]
	if !ok {
		return nil, fmt.Errorf("no patterns for pre-tokenizer kind %q", kind)
	}
	steps := make([]splitStep, 0, len(pats))
	for _, p := range pats {
		if f, ok := customSplitters[p]; ok {
			steps = append(steps, splitStep{custom: f})
			continue
		}
		re, err := compileRegex(p)
		if err != nil {
			return nil, fmt.Errorf("pre-tokenizer %q: %w", kind, err)
		}
		steps = append(steps, splitStep{re: re})
	}
	stepCache[kind] = steps
	return steps, nil
}
