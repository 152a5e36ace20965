package yamltext

import (
	"reflect"
	"strings"
	"testing"
)

// TestParse covers the YAML forms Hugging Face cards use, including the ones the former
// hand-written subsets rejected (flow lists over several lines, anchors and merge keys).
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      any
	}{
		{"sequence at key indent", "configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n",
			map[string]any{"configs": []any{map[string]any{"config_name": "default",
				"data_files": []any{map[string]any{"split": "train", "path": "data/train-*"}}}}}},
		{"indented sequence, quotes, comments", "configs:  # the configs\n  - config_name: \"en\"   # English\n    data_files:\n      - split: 'test'\n        path: [\"a/*.parquet\", b/c.parquet]\n    default: true\n",
			map[string]any{"configs": []any{map[string]any{"config_name": "en", "default": "true",
				"data_files": []any{map[string]any{"split": "test", "path": []any{"a/*.parquet", "b/c.parquet"}}}}}}},
		{"flow mapping and escapes", "a: {x: 1, 'y': \"two\\tthree\"}\nb: 'it''s # not a comment'\nc: \"\\u00e9\\x41\"\n",
			map[string]any{"a": map[string]any{"x": "1", "y": "two\tthree"}, "b": "it's # not a comment", "c": "éA"}},
		{"block scalars", "desc: |\n  line one\n\n  line two\nfold: >-\n  a\n  b\nnext: x\n",
			map[string]any{"desc": "line one\n\nline two\n", "fold": "a b", "next": "x"}},
		{"plain continuation", "pretty_name: a long\n  name here\nlicense: mit\n",
			map[string]any{"pretty_name": "a long name here", "license": "mit"}},
		{"nested sequences and empties", "a:\n- - x\n  - y\n-\n- z\nb:\nc: []\n",
			map[string]any{"a": []any{[]any{"x", "y"}, nil, "z"}, "b": nil, "c": []any{}}},
		{"urls are not keys", "homepage: https://example.com/a:b\n", map[string]any{"homepage": "https://example.com/a:b"}},
		{"scalars keep their text", "n: 1.0\nb: True\nno: no\nd: 2024-01-01\nh: 0x10\nq: \"null\"\nz: ~\ne: null\n",
			map[string]any{"n": "1.0", "b": "True", "no": "no", "d": "2024-01-01", "h": "0x10", "q": "null", "z": nil, "e": nil}},
		{"flow list over several lines", "tags:\n- a\nlanguage: [en,\n  fr, de,\n  'it'\n]\ntask_categories: [\n  text-generation,\n  question-answering]\n",
			map[string]any{"tags": []any{"a"}, "language": []any{"en", "fr", "de", "it"},
				"task_categories": []any{"text-generation", "question-answering"}}},
		{"anchor and merge key", "base: &base\n  data_dir: d\n  default: false\nconfigs:\n- <<: *base\n  config_name: one\n  default: true\n- <<: *base\n  config_name: two\n",
			map[string]any{"base": map[string]any{"data_dir": "d", "default": "false"}, "configs": []any{
				map[string]any{"data_dir": "d", "default": "true", "config_name": "one"},
				map[string]any{"data_dir": "d", "default": "false", "config_name": "two"}}}},
		{"merge list: earlier wins, own keys win", "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  w: 0\n  <<: [*a, *b]\n  z: 3\n",
			map[string]any{"a": map[string]any{"x": "1", "y": "1"}, "b": map[string]any{"y": "2", "z": "2"},
				"c": map[string]any{"w": "0", "x": "1", "y": "1", "z": "3"}}},
		{"alias of a scalar and of a list", "a: &s text\nb: *s\nl: &l [1, 2]\nm: *l\n",
			map[string]any{"a": "text", "b": "text", "l": []any{"1", "2"}, "m": []any{"1", "2"}}},
		{"quoted << is a key", "'<<': x\n", map[string]any{"<<": "x"}},
		{"scalar document", "just text\n", "just text"},
		{"empty document", "", nil},
		{"comments only", "# nothing\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestParseErrors checks that bad documents fail with the line of the problem.
func TestParseErrors(t *testing.T) {
	laughs := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 'b', 'a'; i <= 'k'; i, prev = i+1, i {
		laughs += string(i) + ": &" + string(i) + " [" + strings.Repeat("*"+string(prev)+", ", 9) + "*" + string(prev) + "]\n"
	}
	for _, tc := range []struct{ name, src, want string }{
		{"bad indentation", "a: 1\n  b: 2\n", "yaml: line 2:"},
		{"bad indentation, later", "a: 1\nb: 2\nc: 3\n  d: 4\n", "yaml: line 4:"},
		{"unterminated flow mapping on line 1", "{a: 1\n", "yaml: line 1:"},
		{"key missing in a block mapping", "a:\n  b: 1\n  'c' d\n", "yaml: line 3:"},
		{"unterminated flow list", "x: y\na: [1, 2\n", "yaml: line 2:"}, // where the list starts
		{"unterminated quote", "a: \"open\n", "yaml: line 1:"},
		{"list then mapping", "- a\nb: c\n", "yaml: line 1:"},
		{"tab indentation", "a:\n\t- x\n", "yaml: line 2:"},
		{"text after a quoted scalar", "a: 'x' y\n", "yaml: line 1:"},
		{"unknown anchor", "a: *nowhere\n", "yaml: unknown anchor 'nowhere'"}, // yaml.v3 gives no line
		{"deep nesting", "a: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n", "nested more than 100 levels"},
		{"self-referencing anchor", "a: &x [*x]\n", "nested more than 100 levels"},
		{"mapping merging itself", "a: &x {b: 1, <<: *x}\n", "nested more than 100 levels"},
		{"merge of a scalar", "a: &s x\nb:\n  <<: *s\n", "yaml: line 1: a merge key (<<) takes a mapping"},
		{"merge of a list of lists", "b:\n  <<: [[a]]\n", "yaml: line 2: a merge key (<<) takes a mapping"},
		{"mapping key that is a list", "? [a, b]\n: c\n", "yaml: line 1: a mapping key must be a scalar"},
		{"alias bomb", laughs, "aliases expand to too many values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Parse([]byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %#v, %v; want an error containing %q", v, err, tc.want)
			}
		})
	}
}

// FuzzParse checks that no document makes Parse panic or return other types than documented.
func FuzzParse(f *testing.F) {
	f.Add("configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n")
	f.Add("a: &a {x: [1, 2]}\nb:\n  <<: *a\n  y: |\n    z\n")
	f.Add("a: &x [*x]\n")
	f.Add("tags: [a,\n  b]\n? [k]\n: v\n")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse([]byte(s))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "yaml: ") {
				t.Fatalf("error without the yaml: prefix: %v", err)
			}
			return
		}
		var check func(any, int)
		check = func(v any, depth int) {
			if depth > MaxDepth+1 {
				t.Fatal("deeper than MaxDepth")
			}
			switch x := v.(type) {
			case nil, string:
			case []any:
				for _, e := range x {
					check(e, depth+1)
				}
			case map[string]any:
				for _, e := range x {
					check(e, depth+1)
				}
			default:
				t.Fatalf("value of type %T", v)
			}
		}
		check(v, 0)
	})
}
