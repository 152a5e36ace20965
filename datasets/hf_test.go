package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/stretchr/testify/require"
)

// TestFrontMatter extracts the YAML header of a README.md.
func TestFrontMatter(t *testing.T) {
	fm, ok := frontMatter("\ufeff---\r\na: 1\r\n--- \r\n# Title\n")
	require.True(t, ok)
	require.Equal(t, "\na: 1\r\n", fm, "the opening line is left empty so that line numbers stay the README's")
	fm, ok = frontMatter("---\na: 1\n...\nb: 2\n")
	require.True(t, ok)
	require.Equal(t, "\na: 1\n", fm)
	_, ok = frontMatter("# No front matter\n---\n")
	require.False(t, ok)
	_, ok = frontMatter("---\na: 1\n")
	require.False(t, ok, "unterminated")
}

// TestGlobMatch checks the data_files glob semantics.
func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"data/train-*", "data/train-00000-of-00002.parquet", true},
		{"data/train-*", "data/validation-00000-of-00001.parquet", false},
		{"data/train-*", "data/sub/train-0.parquet", false},
		{"**/train-*", "a/b/c/train-0.parquet", true},
		{"**/train-*", "train-0.parquet", true},
		{"data/**", "data/x/y.parquet", true},
		{"data/**/*.parquet", "data/x.parquet", true},
		{"*.jsonl", "train.jsonl", true},
		{"*.jsonl", "sub/train.jsonl", false},
		{"train.jsonl", "train.jsonl", true},
		{"data/[tv]*", "data/valid.arrow", true},
		{"./data/*", "data/x", false}, // the caller strips "./"
		{strings.Repeat("**/", 40) + "x", "a/b/c/x", true},
	} {
		require.Equal(t, tc.want, globMatch(tc.pattern, tc.name), "%s ~ %s", tc.pattern, tc.name)
	}
}

// makeTree writes files (relative path → content) under a new folder.
func makeTree(t *testing.T, files map[string][]byte) string {
	root := t.TempDir()
	for rel, b := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	return root
}

func jsonl(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

// TestFolderLayouts resolves the folder shapes found on the Hub and on disk.
func TestFolderLayouts(t *testing.T) {
	pq := func(texts ...string) []byte {
		return parquetBytes(t, textSchema, []arrow.RecordBatch{textRecord(texts...)}, 100, compress.Codecs.Snappy)
	}
	stream := func(texts ...string) []byte {
		b, _ := arrowBytes(t, textSchema, []arrow.RecordBatch{textRecord(texts...)}, true)
		return b
	}
	for _, tc := range []struct {
		name   string
		files  map[string][]byte
		opts   Options
		source string
		splits map[string][]string // split -> texts, in order
	}{
		{
			name: "push_to_hub shards, custom split names",
			files: map[string][]byte{
				"data/train-00001-of-00002.parquet":   pq("t3"),
				"data/train-00000-of-00002.parquet":   pq("t1", "t2"),
				"data/wiki_en-00000-of-00001.parquet": pq("w"),
				"README.md":                           []byte("# no front matter\n"),
			},
			source: "conventions",
			splits: map[string][]string{"train": {"t1", "t2", "t3"}, "wiki_en": {"w"}},
		},
		{
			name: "keywords in file and folder names",
			files: map[string][]byte{
				"train.jsonl":         jsonl(`{"text":"a"}`),
				"dev.jsonl":           jsonl(`{"text":"d"}`),
				"testing/part-1.txt":  []byte("x"),
				"notes.txt":           []byte("ignored: no split keyword while others have one"),
				".hidden/train.jsonl": jsonl(`{"text":"hidden"}`),
			},
			source: "conventions",
			splits: map[string][]string{"train": {"a"}, "validation": {"d"}, "test": {"x"}},
		},
		{
			name:   "no keywords: everything is train",
			files:  map[string][]byte{"a.jsonl": jsonl(`{"text":"1"}`), "b/c.txt": []byte("2"), "dataset_info.json": []byte("{}")},
			source: "conventions",
			splits: map[string][]string{"train": {"1", "2"}},
		},
		{
			name: "README configs, data_dir and the map form",
			files: map[string][]byte{
				"README.md": []byte("---\nconfigs:\n- config_name: small\n  data_dir: small\n  data_files:\n    test: \"*.jsonl\"\n    train: [\"tr/*.jsonl\"]\n" +
					"- config_name: big\n  default: true\n  data_files: \"big/*.jsonl\"\n---\n"),
				"small/tr/1.jsonl": jsonl(`{"text":"s1"}`),
				"small/te.jsonl":   jsonl(`{"text":"s2"}`),
				"big/x.jsonl":      jsonl(`{"text":"b"}`),
			},
			source: "readme",
			splits: map[string][]string{"train": {"b"}},
		},
		{
			name: "README config chosen by name",
			files: map[string][]byte{
				"README.md": []byte("---\nconfigs:\n- config_name: small\n  data_dir: small\n  data_files:\n    test: \"*.jsonl\"\n    train: [\"tr/*.jsonl\"]\n" +
					"- config_name: big\n  default: true\n  data_files: \"big/*.jsonl\"\n---\n"),
				"small/tr/1.jsonl": jsonl(`{"text":"s1"}`),
				"small/te.jsonl":   jsonl(`{"text":"s2"}`),
				"big/x.jsonl":      jsonl(`{"text":"b"}`),
			},
			opts:   Options{Config: "small"},
			source: "readme",
			splits: map[string][]string{"train": {"s1"}, "test": {"s2"}},
		},
		{
			name: "README list of patterns and directories",
			files: map[string][]byte{
				"README.md":   []byte("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path:\n    - part1/\n    - part2/*.txt\n---\n"),
				"part1/a.txt": []byte("p1"),
				"part2/b.txt": []byte("p2"),
			},
			source: "readme",
			splits: map[string][]string{"train": {"p1", "p2"}},
		},
		{
			// The hand-written YAML subset failed on this card: "unterminated flow sequence".
			name: "README with a flow list over several lines",
			files: map[string][]byte{
				"README.md": []byte("---\nlicense: mit\ntags: [text,\n  'story',\n  \"en\"]\ntask_categories: [\n  text-generation\n]\n" +
					"configs:\n- config_name: default\n  data_files: [\n    {split: train, path: \"tr/*.txt\"},\n    {split: test, path: te.txt}]\n---\n# Card\n"),
				"tr/a.txt": []byte("a"),
				"te.txt":   []byte("t"),
			},
			source: "readme",
			splits: map[string][]string{"train": {"a"}, "test": {"t"}},
		},
		{
			// The hand-written YAML subset failed on this card: "unexpected indentation".
			name: "README configs sharing settings through an anchor and merge keys",
			files: map[string][]byte{
				"README.md": []byte("---\nconfigs:\n- &common\n  config_name: en\n  data_dir: en\n  data_files:\n  - split: train\n    path: \"*.jsonl\"\n" +
					"- <<: *common\n  config_name: fr\n  data_dir: fr\n  default: true\n---\n"),
				"en/1.jsonl": jsonl(`{"text":"en"}`),
				"fr/1.jsonl": jsonl(`{"text":"fr"}`),
			},
			source: "readme",
			splits: map[string][]string{"train": {"fr"}},
		},
		{
			name: "save_to_disk DatasetDict (streams named .arrow)",
			files: map[string][]byte{
				"dataset_dict.json":                  []byte(`{"splits": ["train", "test"]}`),
				"train/state.json":                   []byte(`{"_data_files": [{"filename": "data-00000-of-00002.arrow"}, {"filename": "data-00001-of-00002.arrow"}], "_split": null}`),
				"train/data-00000-of-00002.arrow":    stream("a", "b"),
				"train/data-00001-of-00002.arrow":    stream("c"),
				"train/dataset_info.json":            []byte("{}"),
				"test/state.json":                    []byte(`{"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": "test"}`),
				"test/data-00000-of-00001.arrow":     stream("z"),
				"test/cache-1234567890abcdef.arrow":  stream("not listed"),
				"train/cache-1234567890abcdef.arrow": stream("not listed"),
			},
			source: "save_to_disk",
			splits: map[string][]string{"train": {"a", "b", "c"}, "test": {"z"}},
		},
		{
			name: "save_to_disk single Dataset",
			files: map[string][]byte{
				"state.json":                []byte(`{"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": "validation"}`),
				"data-00000-of-00001.arrow": stream("v"),
			},
			source: "save_to_disk",
			splits: map[string][]string{"validation": {"v"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := makeTree(t, tc.files)
			lay, err := ResolveFolder(root, tc.opts)
			require.NoError(t, err)
			require.Equal(t, tc.source, lay.Source)
			require.ElementsMatch(t, keys(tc.splits), splitNames(lay))
			for split, want := range tc.splits {
				opts := tc.opts
				opts.Split = split
				recs, _ := readAllRecords(t, root, opts)
				var got []string
				for _, r := range recs {
					got = append(got, r.Text)
				}
				require.Equal(t, want, got, split)
				info, err := Inspect(root, opts, 1)
				require.NoError(t, err)
				require.EqualValues(t, len(want), info.Rows)
				require.Len(t, info.Splits, len(tc.splits))
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestFolderErrors covers folders that cannot be read.
func TestFolderErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		opts  Options
		want  string
	}{
		{"bad yaml", map[string][]byte{"README.md": []byte("---\nconfigs: [\n---\n"), "a.txt": []byte("x")}, Options{},
			"README.md: front matter: yaml: line 3: "}, // where the front matter ends, inside the list
		{"bad yaml, README line", map[string][]byte{"README.md": []byte("---\nlicense: mit\n\ntags: a\n  b: c\n---\n"), "a.txt": []byte("x")}, Options{},
			"README.md: front matter: yaml: line 5: "},
		{"configs not a list", map[string][]byte{"README.md": []byte("---\nconfigs: x\n---\n")}, Options{}, "configs is not a list"},
		{"config without readme", map[string][]byte{"a.txt": []byte("x")}, Options{Config: "en"}, `config "en" asked for`},
		{"state without files", map[string][]byte{"state.json": []byte(`{"_data_files": []}`)}, Options{}, "no _data_files"},
		{"escaping state", map[string][]byte{"state.json": []byte(`{"_data_files": [{"filename": "../x.arrow"}]}`)}, Options{}, "bad data file name"},
		{"escaping split", map[string][]byte{"dataset_dict.json": []byte(`{"splits": ["../etc"]}`)}, Options{}, "bad split name"},
		{"missing shard", map[string][]byte{"state.json": []byte(`{"_data_files": [{"filename": "gone.arrow"}]}`)}, Options{}, "gone.arrow"},
		{"unknown split", map[string][]byte{"train.txt": []byte("x")}, Options{Split: "test"}, `no split "test" (available: train)`},
		{"a file is not a folder", map[string][]byte{"train.txt": []byte("x")}, Options{Format: FormatParquet}, "is a folder, not a parquet file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := makeTree(t, tc.files)
			_, err := Open(root, tc.opts)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := Open(filepath.Join(t.TempDir(), "nope"), Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
	p := writeFile(t, filepath.Join(t.TempDir(), "x.txt"), []byte("x"))
	_, err = Open(p, Options{Format: FormatHF})
	require.ErrorContains(t, err, "format hf needs a folder")
}
