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
	patPoro         = ` ?[^(\s|.,!?…。，、।۔،)]+`
	patCJK          = "[一-龥ࠀ-一가-퟿]+"
	patJapaneseCJK  = "[一-龥぀-ゟ゠-ヿ]+"
	patDeepseek3    = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
	patGPT4O        = `[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+` + patContractions + `?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*` + patContractions + `?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patLetterCase   = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` + patContractions + `?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` + patContractions + `?|`
)

// preTokenizers maps a pre-tokenizer kind to its patterns, applied in order.
var preTokenizers = map[string][]string{
	"default": {`[\p{P}\$\+<=>\^~\|]+`, patGPT2, `\p{N}+`, `[0-9][0-9][0-9]`},
	"llama3":  {patLlama3},
	"jais2": {patContractions + `|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}`},
	"deepseek-llm": {
		"[\r\n]",
		"\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
		"\\s?[!-/:-~！-／：-～‘-‟　-。]+",
		"\\s+$",
		patCJK,
		`\p{N}+`,
	},
	"deepseek-v3": {`\p{N}{1,3}`, patJapaneseCJK, patDeepseek3},
	"youtu": {
		"[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
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
		"[一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+",
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
	set(preSpec{kind: "newlines", rawBytes: true, escapeSpaces: true, forceBOS: true}, "gemma4", "granite-embed-multi-311m")
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
	re     *Regex
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
