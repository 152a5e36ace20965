package convert

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestModelIDComponents checks our port of llama.cpp's Metadata.get_model_id_components and
// id_to_title; the expected values follow gguf-py/gguf/metadata.py step by step.
func TestModelIDComponents(t *testing.T) {
	cases := []struct {
		id                                       string
		params                                   int64
		full, org, base, finetune, version, size string
		title                                    string
	}{
		{"teacher-hf", 4196608, "teacher-hf", "", "", "", "", "", "Teacher Hf"},
		{"hf", 4196608, "hf", "", "", "", "", "", "Hf"},
		{"mistralai/Mistral-7B-Instruct-v0.2", 7241732096, "Mistral-7B-Instruct-v0.2", "mistralai", "Mistral", "Instruct", "v0.2", "7B", "Mistral 7B Instruct v0.2"},
		{"meta-llama/Llama-3.2-1B", 1235814400, "Llama-3.2-1B", "meta-llama", "Llama-3.2", "", "", "1B", "Llama 3.2 1B"},
		{"HuggingFaceTB/smollm-135m", 134515008, "smollm-135m", "HuggingFaceTB", "smollm", "", "", "135M", "Smollm 135m"},
		// A size far from the real count is a context length: fine-tune, lower-case suffix.
		{"org/Model-32K-Chat", 7e9, "Model-32K-Chat", "org", "Model", "32k-Chat", "", "", "Model 32K Chat"},
		{"./local-model", 1000, "local-model", "", "", "", "", "", "Local Model"},
		{"a model name", 1000, "a model name", "", "", "", "", "", "A Model Name"},
	}
	for _, c := range cases {
		full, org, base, ft, ver, size, _ := modelIDComponents(c.id, c.params)
		if full != c.full || org != c.org || base != c.base || ft != c.finetune || ver != c.version || size != c.size {
			t.Errorf("%q: got full %q org %q base %q finetune %q version %q size %q", c.id, full, org, base, ft, ver, size)
		}
		if got := idToTitle(full); got != c.title {
			t.Errorf("idToTitle(%q) = %q, want %q", full, got, c.title)
		}
	}
}

func TestSizeLabel(t *testing.T) {
	cases := map[int64]string{4196608: "4.2M", 1235814400: "1.2B", 134515008: "135M", 500: "0.50K",
		7241732096: "7.2B", 70553706496: "71B", 999999: "1000K", 1500000000000: "1.5T", 12345: "12K"}
	for n, want := range cases {
		if got := sizeLabel(n); got != want {
			t.Errorf("sizeLabel(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPyFloat(t *testing.T) {
	cases := map[float64]string{1e-05: "1e-05", 1e-06: "1e-06", 10000: "10000.0", 0.02: "0.02",
		0.0001: "0.0001", 1e16: "1e+16", 123456789012345680: "1.2345678901234568e+17", 500000: "500000.0",
		-2.5: "-2.5", 0: "0.0", 1.5e-10: "1.5e-10", 9.999999747378752e-06: "9.999999747378752e-06"}
	for f, want := range cases {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
	if got := pyQuote("é\"\n\U0001F600", true); got != `"\u00e9\"\n\ud83d\ude00"` {
		t.Errorf("pyQuote ascii: %s", got)
	}
	o := newOrdered()
	o.set("b", 1)
	o.set("a", []any{})
	o.set("b", 2)
	b, err := pyJSON(o, false, false)
	if err != nil || string(b) != "{\n  \"b\": 2,\n  \"a\": []\n}\n" {
		t.Errorf("pyJSON: %q %v", b, err)
	}
}

// TestFrontMatter reads model cards into the values llama.cpp's reading uses, including cards
// the former hand-written subset could not read (flow lists over several lines, anchors and
// merge keys, block scalars).
func TestFrontMatter(t *testing.T) {
	for _, tc := range []struct {
		name, card string
		want       map[string]any
	}{
		{"scalars, lists, comments, nested mappings", `---
license: apache-2.0 # a comment
name: "My \"Model\""
language:
- en
- fr
tags: [text-generation, 'llama', "q: x"]
base_model: meta-llama/Llama-3.2-1B
model-index:
  - name: x
    results: []
empty:
---
# Title
`, map[string]any{
			"license": "apache-2.0", "name": `My "Model"`, "language": []any{"en", "fr"},
			"tags": []any{"text-generation", "llama", "q: x"}, "base_model": "meta-llama/Llama-3.2-1B",
			"model-index": []any(nil), "empty": nil,
		}},
		{"flow list over several lines", "---\ntags: [text-generation,\n  llama,\n  'chat']\nlanguage: [\n  en, fr\n]\n---\n",
			map[string]any{"tags": []any{"text-generation", "llama", "chat"}, "language": []any{"en", "fr"}}},
		{"anchor and merge key", "---\ndefaults: &d\n  license: mit\nmodel_details:\n  <<: *d\nlicense: &l apache-2.0\nlicense_name: *l\ntags: &t [a, b]\npipeline_tag: *t\n---\n",
			map[string]any{"defaults": nil, "model_details": nil, "license": "apache-2.0", "license_name": "apache-2.0",
				"tags": []any{"a", "b"}, "pipeline_tag": []any{"a", "b"}}},
		{"block scalar and CRLF", "---\r\ndescription: |\r\n  two\r\n  lines\r\nname: x\r\n---\r\n",
			map[string]any{"description": "two\nlines\n", "name": "x"}},
		{"scalars keep their text", "---\nversion: 1.10\nlanguage:\n- \"no\"\n- yes\nsize_label: ~\n---\n",
			map[string]any{"version": "1.10", "language": []any{"no", "yes"}, "size_label": nil}},
		{"no closing delimiter: the rest is YAML", "---\nname: x\n", map[string]any{"name": "x"}},
		{"not a mapping: an empty card", "---\n- a\n- b\n---\n", map[string]any{}},
		{"empty front matter", "---\n---\n# Title\n", map[string]any{}},
		{"no front matter", "# no front matter\n---\na: 1\n---\n", nil},
		{"a byte-order mark hides it, as in llama.cpp", "\ufeff---\na: 1\n---\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFrontMatter(tc.card)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestFrontMatterErrors checks that a card whose YAML does not parse stops the conversion with
// an error naming README.md and the card's line, as llama.cpp's yaml.safe_load stops it.
func TestFrontMatterErrors(t *testing.T) {
	for _, tc := range []struct{ name, card, want string }{
		{"bad indentation", "---\nlicense: mit\ntags: a\n  b: c\n---\n", "front matter: yaml: line 4: "},
		{"unterminated flow list", "---\nlicense: mit\n\ntags: [a, b\n---\n# Title\n", "front matter: yaml: line 4: "},
		{"tab indentation", "---\ntags:\n\t- a\n---\n", "front matter: yaml: line 3: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(tc.card), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := loadGeneralInfo(dir, &hparams{m: map[string]any{}}, 1000)
			if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), filepath.Join(dir, "README.md")+": "+tc.want) {
				t.Fatalf("got %v, want ErrBadInput naming README.md and %q", err, tc.want)
			}
		})
	}
}

// TestGeneralFromCard checks that the model card, config.json's _name_or_path and the folder
// name feed general.* the way llama.cpp's Metadata.load does.
func TestGeneralFromCard(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Qwen2.5-0.5B-Instruct")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("---\nlicense: apache-2.0\nlicense_link: https://x/LICENSE\nbase_model:\n- Qwen/Qwen2.5-0.5B\ntags:\n- chat\npipeline_tag: text-generation\nlanguage:\n- en\n---\n"), 0o644)
	g, err := loadGeneralInfo(dir, &hparams{m: map[string]any{}}, 494032768)
	if err != nil {
		t.Fatal(err)
	}
	md := &mdBuilder{}
	g.write(md)
	got := map[string]any{}
	for _, kv := range md.md {
		got[kv.Key] = kv.Value
	}
	wantKeys := []string{"general.name", "general.finetune", "general.basename", "general.size_label",
		"general.license", "general.license.link", "general.base_model.count", "general.base_model.0.name",
		"general.base_model.0.organization", "general.base_model.0.repo_url", "general.tags", "general.languages"}
	if keys := keysOf(md.md); !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("keys %q\nwant %q", keys, wantKeys)
	}
	checks := map[string]string{"general.name": "Qwen2.5 0.5B Instruct", "general.finetune": "Instruct",
		"general.basename": "Qwen2.5", "general.size_label": "0.5B", "general.base_model.0.name": "Qwen2.5 0.5B",
		"general.base_model.0.organization": "Qwen", "general.base_model.0.repo_url": "https://huggingface.co/Qwen/Qwen2.5-0.5B"}
	for k, v := range checks {
		if got[k] != v {
			t.Errorf("%s = %v, want %q", k, got[k], v)
		}
	}
	if tags, _ := md.md.Strings("general.tags"); !reflect.DeepEqual(tags, []string{"chat", "text-generation"}) {
		t.Errorf("tags %v", tags)
	}
}

func TestSPMRoundTrip(t *testing.T) {
	m := spmSample(300)
	m.Pieces[5].Type = TokenUserDefined
	m.PadID = 3
	got, err := ParseSPM(m.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip:\n got %+v\nwant %+v", withoutPieces(got), withoutPieces(m))
	}
	for _, bad := range [][]byte{{}, {0x0a}, {0x0a, 0x05, 0x0a}, {0x0b}, {0x00}, {0x0a, 0x02, 0x15, 0x00}} {
		if _, err := ParseSPM(bad); err == nil {
			t.Errorf("ParseSPM(%x) accepted", bad)
		}
	}
}

// TestPreDetection checks the pre-tokenizer table both ways.
func TestPreDetection(t *testing.T) {
	for _, r := range preRecipes {
		b, err := pyJSON(preTokenizerJSON(r.name), false, false)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		got, err := detectPre(&tokenizerJSON{path: "tokenizer.json", pre: m})
		if err != nil || got != r.name {
			t.Errorf("%s: detected %q, %v", r.name, got, err)
		}
	}
	_, err := detectPre(&tokenizerJSON{path: "tokenizer.json", pre: map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "x"}}})
	if err == nil || !strings.Contains(err.Error(), `Split("x")`) || !strings.Contains(err.Error(), "--tokenizer-pre") {
		t.Errorf("unknown pre-tokenizer: %v", err)
	}
}

func TestParseOutType(t *testing.T) {
	for in, want := range map[string]OutType{"": OutAuto, "auto": OutAuto, "F16": OutF16, "bf16": OutBF16, "f32": OutF32} {
		if got, err := ParseOutType(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := ParseOutType("q8_0"); err == nil {
		t.Error("q8_0 accepted")
	}
}
