package convert

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// fuzzFolder builds a tiny checkpoint folder once per fuzz target and returns a function that
// replaces one of its JSON files with the fuzzer's bytes and opens the folder as a Source.
func fuzzFolder(f *testing.F, s synth, file string) (seed []byte, open func(t *testing.T, b []byte) (*Source, error)) {
	dir := f.TempDir()
	s.write(f, dir)
	seed, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		f.Fatal(err)
	}
	return seed, func(t *testing.T, b []byte) (*Source, error) {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return OpenSource(dir, Options{OutType: OutF32, Threads: 1})
	}
}

// checkSource checks what every accepted folder must give: metadata that encodes as GGUF and
// a vocabulary that agrees with the embedding table.
func checkSource(t *testing.T, src *Source) {
	t.Helper()
	defer src.Close()
	if _, err := gguf.NewWriter(&bytes.Buffer{}, src.Metadata, src.TensorInfos()); err != nil {
		t.Fatalf("accepted folder gives unwritable GGUF metadata: %v", err)
	}
	if toks, ok := src.Metadata.Strings("tokenizer.ggml.tokens"); ok && len(toks) > src.Config.VocabSize {
		t.Fatalf("%d tokens for a vocabulary of %d", len(toks), src.Config.VocabSize)
	}
	if err := src.Config.Validate(); err != nil {
		t.Fatalf("accepted folder has an invalid config: %v", err)
	}
	// The counts the runtime sizes its structures by must be those of the tensors.
	blocks := map[string]bool{}
	for _, ti := range src.Tensors {
		if rest, ok := strings.CutPrefix(ti.Name, "blk."); ok {
			num, _, _ := strings.Cut(rest, ".")
			blocks[num] = true
		}
		if ti.Name == "token_embd.weight" && (ti.Dims[0] != uint64(src.Config.Hidden) || ti.Dims[1] != uint64(src.Config.VocabSize)) {
			t.Fatalf("token embedding %v for hidden size %d and vocabulary %d", ti.Dims, src.Config.Hidden, src.Config.VocabSize)
		}
	}
	if len(blocks) != src.Config.Layers {
		t.Fatalf("%d layers of tensors for a block count of %d", len(blocks), src.Config.Layers)
	}
}

// FuzzTokenizerJSON feeds arbitrary tokenizer.json files (untrusted bytes from a model
// repository) to the converter: never a panic; whatever is accepted is well formed.
func FuzzTokenizerJSON(f *testing.F) {
	for _, kind := range []string{"bpe-llama3", "bpe-qwen2", "llamahf"} {
		s := synth{arch: "LlamaForCausalLM", modelType: "llama", hidden: 32, layers: 1, heads: 2, kv: 1, ffn: 64, vocab: 320, dtype: safetensors.F32, tokenizer: kind}
		seed, _ := fuzzFolder(f, s, "tokenizer.json")
		f.Add(seed)
	}
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a a"]},"added_tokens":[{"id":99999999999,"content":"x"}]}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":-1},"merges":[["a"]]}}`))
	f.Add([]byte(`{"model":{"type":"WordPiece"}}`))
	s := synth{arch: "LlamaForCausalLM", modelType: "llama", hidden: 32, layers: 1, heads: 2, kv: 1, ffn: 64, vocab: 320, dtype: safetensors.F32, tokenizer: "bpe-llama3"}
	_, open := fuzzFolder(f, s, "tokenizer.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := open(t, b)
		if err != nil {
			return
		}
		checkSource(t, src)
	})
}

// FuzzTokenizerConfigJSON does the same for tokenizer_config.json (special tokens, chat
// template, add_bos/add_eos).
func FuzzTokenizerConfigJSON(f *testing.F) {
	s := synth{arch: "Qwen2ForCausalLM", modelType: "qwen2", hidden: 32, layers: 1, heads: 2, kv: 1, ffn: 64, vocab: 320, dtype: safetensors.F32, tokenizer: "bpe-qwen2", tied: true, biases: true}
	seed, open := fuzzFolder(f, s, "tokenizer_config.json")
	f.Add(seed)
	f.Add([]byte(`{"bos_token":{"content":"<|im_start|>"},"eos_token":7,"chat_template":[{"name":"default","template":"x"},{"name":1}]}`))
	f.Add([]byte(`{"add_bos_token":"yes","added_tokens_decoder":{"-3":{"content":"z"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := open(t, b)
		if err != nil {
			return
		}
		checkSource(t, src)
	})
}

// FuzzConfigJSON does the same for config.json: missing, negative, huge or mistyped
// hyperparameters must give an error naming the field, never a panic or a huge allocation.
func FuzzConfigJSON(f *testing.F) {
	s := synth{arch: "LlamaForCausalLM", modelType: "llama", hidden: 32, layers: 1, heads: 2, kv: 1, ffn: 64, vocab: 264, dtype: safetensors.F32, tokenizer: "spm"}
	seed, open := fuzzFolder(f, s, "config.json")
	f.Add(seed)
	f.Add(bytes.Replace(seed, []byte(`"num_attention_heads": 2`), []byte(`"num_attention_heads": 0`), 1))
	f.Add(bytes.Replace(seed, []byte(`"hidden_size": 32`), []byte(`"hidden_size": 1e300`), 1))
	f.Add([]byte(`{"architectures":["LlamaForCausalLM"],"rope_scaling":{"rope_type":"llama3","factor":-1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := open(t, b)
		if err != nil {
			return
		}
		checkSource(t, src)
	})
}

// TestFuzzFolderSeedsOpen makes sure the fuzz targets start from folders the converter accepts,
// so that their checks on accepted input run.
func TestFuzzFolderSeedsOpen(t *testing.T) {
	for _, tc := range []struct {
		s    synth
		file string
	}{
		{synth{arch: "LlamaForCausalLM", modelType: "llama", hidden: 32, layers: 1, heads: 2, kv: 1, ffn: 64, vocab: 320, dtype: safetensors.F32, tokenizer: "bpe-llama3"}, "tokenizer.json"},
		{synth{arch: "Qwen2ForCausalLM", modelType: "qwen2", hidden: 32, layers: 1, heads: 2, kv: 1, ffn: 64, vocab: 320, dtype: safetensors.F32, tokenizer: "bpe-qwen2", tied: true, biases: true}, "tokenizer_config.json"},
		{synth{arch: "LlamaForCausalLM", modelType: "llama", hidden: 32, layers: 1, heads: 2, kv: 1, ffn: 64, vocab: 264, dtype: safetensors.F32, tokenizer: "spm"}, "config.json"},
	} {
		dir := t.TempDir()
		tc.s.write(t, dir)
		src, err := OpenSource(dir, Options{OutType: OutF32, Threads: 1})
		if err != nil {
			t.Fatalf("%s seed folder: %v", tc.file, err)
		}
		src.Close()
	}
}
