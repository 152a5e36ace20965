package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"
)

// findShared returns ../shared beside the repository root, or a reason why there is none.
func findShared() (string, string) {
	dir, err := testfixtures.Find()
	if err != nil {
		return "", err.Error()
	}
	return dir, ""
}

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// vocabTest is one test vector of llama.cpp's tests/test-tokenizer-0.
type vocabTest struct {
	input string
	want  []int32
}

// readVocabTests reads NAME.gguf.inp and NAME.gguf.out the way test-tokenizer-0.cpp does:
// inputs are separated by "\n__ggml_vocab_test__\n" (so the newline before each separator is
// not part of the input), and each output line holds the expected ids.
func readVocabTests(t *testing.T, base string) []vocabTest {
	t.Helper()
	inp, err := os.ReadFile(base + ".inp")
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(base + ".out")
	if err != nil {
		t.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	raw := string(inp)
	var inputs []string
	for pos := 0; pos < len(raw); {
		i := strings.Index(raw[pos:], sep)
		if i < 0 {
			inputs = append(inputs, raw[pos:])
			break
		}
		inputs = append(inputs, raw[pos:pos+i])
		pos += i + len(sep)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("%s: %d inputs but %d output lines", base, len(inputs), len(lines))
	}
	tests := make([]vocabTest, len(inputs))
	for i, line := range lines {
		tests[i].input = inputs[i]
		for _, f := range strings.Fields(line) {
			v, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s: line %d: %v", base, i+1, err)
			}
			tests[i].want = append(tests[i].want, int32(v))
		}
	}
	return tests
}

func runVocabTests(t *testing.T, file string) {
	tok, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	tests := readVocabTests(t, file)
	fails := 0
	for i, tc := range tests {
		// test-tokenizer-0 tokenizes with add_special = false and parse_special = false.
		got, err := tok.Encode(tc.input, EncodeOptions{})
		if err != nil {
			t.Fatalf("test %d %q: %v", i, tc.input, err)
		}
		if !slices.Equal(got, tc.want) {
			fails++
			if fails <= 10 {
				t.Errorf("test %d %q:\n got  %v\n want %v", i, tc.input, got, tc.want)
			}
		}
	}
	if len(tests) == 0 {
		t.Fatal("no tests")
	}
}

// TestVocabFixtures runs every llama.cpp tokenizer test vector in ../shared.
func TestVocabFixtures(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "fixtures", "tokenizers")
	files, err := filepath.Glob(filepath.Join(dir, "*.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no vocabulary fixtures in %s", dir)
	}
	for _, f := range files {
		if _, err := os.Stat(f + ".inp"); err != nil {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".gguf"), func(t *testing.T) {
			runVocabTests(t, f)
		})
	}
}

// TestExtraVocabFixtures runs vocabularies from TOKENIZER_EXTRA_VOCABS (a directory of
// llama.cpp's models/ggml-vocab-*.gguf with .inp/.out), for checking more pre-tokenizers by hand.
func TestExtraVocabFixtures(t *testing.T) {
	dir := os.Getenv("TOKENIZER_EXTRA_VOCABS")
	if dir == "" {
		t.Skip("TOKENIZER_EXTRA_VOCABS not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.gguf"))
	for _, f := range files {
		if _, err := os.Stat(f + ".inp"); err != nil {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".gguf"), func(t *testing.T) {
			runVocabTests(t, f)
		})
	}
}

// TestShakespeareGolden checks the SentencePiece tokenizer of the trained shakespeare model
// against the token ids of its golden run (BOS first).
func TestShakespeareGolden(t *testing.T) {
	base := filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama")
	raw, err := os.ReadFile(filepath.Join(base, "golden", "golden.json"))
	if err != nil {
		t.Skipf("golden.json not available: %v", err)
	}
	var golden struct {
		PromptText string  `json:"prompt_text"`
		TokenIDs   []int32 `json:"token_ids"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.TokenIDs) == 0 || golden.PromptText == "" {
		t.Fatal("golden.json has no prompt_text/token_ids")
	}
	tok, err := Open(filepath.Join(base, "gguf", "teacher-F16.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Kind() != KindSPM || !tok.AddBOS() {
		t.Fatalf("kind %v add_bos %v, want SPM with BOS", tok.Kind(), tok.AddBOS())
	}
	got, err := tok.Encode(golden.PromptText, EncodeOptions{AddSpecial: true})
	if err != nil {
		t.Fatal(err)
	}
	// token_ids are the first tokens of the prompt (the golden logits cover 64 positions).
	if len(got) < len(golden.TokenIDs) || !slices.Equal(got[:len(golden.TokenIDs)], golden.TokenIDs) {
		t.Fatalf("Encode(prompt_text) does not start with token_ids:\n got  %v\n want %v", got, golden.TokenIDs)
	}
	if got[0] != tok.BOS() {
		t.Fatalf("first token %d, want BOS %d", got[0], tok.BOS())
	}
	prefix := tok.Decode(golden.TokenIDs)
	if !strings.HasPrefix(golden.PromptText, prefix) || len(prefix) == 0 {
		t.Fatalf("Decode(token_ids) = %q is not a prefix of prompt_text", prefix)
	}
	if back := tok.Decode(got); back != golden.PromptText {
		t.Fatalf("Decode(Encode(prompt)) = %q, want %q", back, golden.PromptText)
	}
}
