package datasets

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/stretchr/testify/require"
)

var updateCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the seed corpora in testdata/fuzz from generated files")

// readCount opens path, reads every record and returns how many; it checks the invariants
// every successful read must satisfy.
func readCount(t *testing.T, path string, opts Options) (int64, error) {
	r, err := Open(path, opts)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var n int64
	line := int64(0)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			if _, again := r.Next(); again == nil {
				t.Fatalf("Next succeeded after error %v", err)
			}
			return n, err
		}
		if rec.Fields == nil || rec.Row != n || rec.Source != path {
			t.Fatalf("bad record %d: %+v", n, rec)
		}
		if rec.Line != 0 && rec.Line <= line {
			t.Fatalf("line numbers do not increase: %d after %d", rec.Line, line)
		}
		line = rec.Line
		n++
	}
}

// FuzzJSONL feeds arbitrary bytes to the JSON Lines and JSON readers.
func FuzzJSONL(f *testing.F) {
	f.Add([]byte("{\"text\":\"a\"}\n{\"text\":\"b\",\"n\":1}\n"))
	f.Add([]byte("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n\n[1]\n"))
	f.Add([]byte("[{\"a\":1},{\"a\":[1,2,{\"b\":null}]}]"))
	f.Add([]byte("\xef\xbb\xbf{\"x\":1e400}"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.jsonl")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, opts := range []Options{{Format: FormatJSONL}, {Format: FormatJSON}, {Format: FormatJSONL, Columns: []string{"text"}, TextColumn: "text"}} {
			n, err := readCount(t, p, opts)
			if err != nil {
				if len(data) > 0 && !errors.Is(err, ErrMissingColumn) && !containsPath(err, p) {
					t.Fatalf("error does not name the file: %v", err)
				}
				continue
			}
			if opts.Format == FormatJSONL {
				info, err := Inspect(p, opts, 2)
				if err != nil {
					t.Fatalf("read %d records but Inspect fails: %v", n, err)
				}
				if info.Rows != n {
					t.Fatalf("Inspect counts %d rows, reading %d", info.Rows, n)
				}
			}
		}
	})
}

// FuzzColumnar feeds arbitrary bytes to the Parquet and Arrow IPC readers. The seed corpus
// holds small valid files of each kind (see TestWriteFuzzCorpus) and the Arrow JS files of
// testdata.
func FuzzColumnar(f *testing.F) {
	f.Add([]byte("PAR1"))
	f.Add([]byte("ARROW1\x00\x00ARROW1"))
	f.Add([]byte("\xff\xff\xff\xff\x00\x00\x00\x00"))
	// Arrow JS files with a large_string column and a dictionary column grown by deltas.
	for _, name := range []string{"dict-large.arrow", "dict-large.arrows"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.bin")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, format := range []Format{FormatAuto, FormatParquet, FormatArrowFile} {
			opts := Options{Format: format, BatchSize: 3}
			n, err := readCount(t, p, opts)
			if err != nil {
				if len(data) > 0 && !containsPath(err, p) {
					t.Fatalf("error does not name the file: %v", err)
				}
				continue
			}
			info, err := Inspect(p, opts, 1)
			if err == nil && info.Rows != n {
				t.Fatalf("%s: Inspect counts %d rows, reading %d", format, info.Rows, n)
			}
		}
	})
}

// FuzzReadme feeds arbitrary dataset cards to the folder resolver.
func FuzzReadme(f *testing.F) {
	f.Add([]byte("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n---\n"))
	f.Add([]byte("---\nconfigs:\n  - config_name: en\n    data_dir: d\n    data_files: {train: \"*.txt\", test: [a, 'b']}\n    default: true\n---\n"))
	f.Add([]byte("---\na: |\n  x\n\n  y\nb: >-\n  z\nc: \"\\u00e9\"\n---\n"))
	f.Add([]byte("---\ntags: [a,\n  b]\nconfigs:\n- &c\n  config_name: x\n  data_files: \"*.txt\"\n- <<: *c\n  config_name: y\n---\n"))
	root := f.TempDir()
	for _, rel := range []string{"data/train-00000-of-00001.parquet", "d/a.txt", "b", "x.txt"} {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, readme []byte) {
		if err := os.WriteFile(filepath.Join(root, "README.md"), readme, 0o644); err != nil {
			t.Fatal(err)
		}
		lay, err := ResolveFolder(root, Options{})
		if err != nil {
			return
		}
		if len(lay.Splits) == 0 {
			t.Fatalf("a layout without splits: %+v", lay)
		}
		for _, s := range lay.Splits {
			for _, file := range s.Files {
				if rel, err := filepath.Rel(root, file); err != nil || rel == ".." || filepath.IsAbs(rel) || len(rel) >= 2 && rel[:2] == ".." {
					t.Fatalf("shard %q outside the folder", file)
				}
			}
		}
	})
}

func containsPath(err error, p string) bool {
	return err != nil && p != "" && strings.Contains(err.Error(), p)
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzColumnar from small files written by
// arrow-go: go test ./datasets -run TestWriteFuzzCorpus -update-fuzz-corpus. (The committed
// seeds run as part of FuzzColumnar on every go test.)
func TestWriteFuzzCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("generator: pass -update-fuzz-corpus to rewrite testdata/fuzz/FuzzColumnar")
	}
	// A small nested schema: a list of structs and a struct of lists.
	nested := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "choices", Type: arrow.StructOf(arrow.Field{Name: "text", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true}), Nullable: true},
		{Name: "messages", Type: arrow.ListOf(arrow.StructOf(
			arrow.Field{Name: "role", Type: arrow.BinaryTypes.String, Nullable: true},
			arrow.Field{Name: "content", Type: arrow.BinaryTypes.String, Nullable: true})), Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, nested, strings.NewReader(
		`[{"id":1,"choices":{"text":["a","b"]},"messages":[{"role":"user","content":"hi"}]},{"id":2,"choices":null,"messages":[]}]`))
	require.NoError(t, err)
	stories := storyBatches(2, 2)
	arrowFile, _ := arrowBytes(t, textSchema, stories, false)
	arrowStream, _ := arrowBytes(t, textSchema, stories, true)
	nestedStream, _ := arrowBytes(t, nested, []arrow.RecordBatch{rec}, true)
	seeds := map[string][]byte{
		"parquet-nested-snappy": parquetBytes(t, nested, []arrow.RecordBatch{rec}, 1, compress.Codecs.Snappy),
		"parquet-text-zstd":     parquetBytes(t, textSchema, stories, 2, compress.Codecs.Zstd),
		"parquet-text-plain":    parquetBytes(t, textSchema, stories[:1], 1, compress.Codecs.Uncompressed),
		"arrow-file-text":       arrowFile,
		"arrow-stream-text":     arrowStream,
		"arrow-stream-nested":   nestedStream,
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzColumnar")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	total := 0
	for name, b := range seeds {
		n, err := readCount(t, writeFile(t, filepath.Join(t.TempDir(), name), b), Options{})
		require.NoError(t, err, name)
		require.Positive(t, n, name)
		total += len(b)
		enc := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(enc), 0o644))
	}
	require.Less(t, total, 16<<10, "keep the committed corpus small")
}
