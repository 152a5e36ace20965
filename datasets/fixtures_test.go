package datasets

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"

	"github.com/stretchr/testify/require"
)

// findShared returns ../shared beside the repository root and whether it exists.
func findShared() (string, bool) {
	dir, err := testfixtures.Find()
	return dir, err == nil
}

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// parquetFixtures returns the datasets/parquet fixture folder, skipping when absent.
func parquetFixtures(t testing.TB) string {
	dir := filepath.Join(sharedDir(t), "datasets", "parquet")
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Skipf("no manifest.json in %s", dir)
	}
	return dir
}

type manifestFile struct {
	Format         string           `json:"format"`
	Bytes          int64            `json:"bytes"`
	NumRows        int64            `json:"num_rows"`
	RowGroups      []int64          `json:"row_groups"`
	RecordBatches  []int64          `json:"record_batches"`
	FirstRow       map[string]any   `json:"first_row"`
	LastRow        map[string]any   `json:"last_row"`
	TextSHA256     string           `json:"text_sha256"`
	MessagesSHA256 string           `json:"messages_sha256"`
	TotalMessages  int              `json:"total_messages"`
	Columns        []map[string]any `json:"columns"`
	Schema         []map[string]any `json:"schema"`
	Compression    any              `json:"compression"`
}

type manifestSplit struct {
	Files      []string `json:"files"`
	NumRows    int64    `json:"num_rows"`
	TextSHA256 string   `json:"text_sha256"`
}

type manifest struct {
	Files  map[string]manifestFile               `json:"files"`
	Splits map[string]map[string]json.RawMessage `json:"splits"`
}

func loadManifest(t testing.TB, dir string) manifest {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	var m manifest
	require.NoError(t, json.Unmarshal(b, &m))
	require.NotEmpty(t, m.Files)
	return m
}

// readAllRecords reads every record of path with opts.
func readAllRecords(t testing.TB, path string, opts Options) ([]*Record, Reader) {
	t.Helper()
	r, err := Open(path, opts)
	require.NoError(t, err, path)
	t.Cleanup(func() { r.Close() })
	var recs []*Record
	for rec, err := range Records(r) {
		require.NoError(t, err, path)
		recs = append(recs, rec)
	}
	return recs, r
}

// textHash is the manifest's text_sha256: every non-null value of field, each followed by "\n".
func textHash(t testing.TB, recs []*Record, field string) string {
	h := sha256.New()
	for _, rec := range recs {
		v, ok := rec.Fields[field]
		require.True(t, ok, "field %q missing in %s row %d", field, rec.Source, rec.Row)
		if v == nil {
			continue
		}
		s, ok := v.(string)
		require.True(t, ok, "field %q is %T", field, v)
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// asJSON round-trips v through encoding/json so that our values compare with the manifest's.
func asJSON(t testing.TB, v any) any {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func checkRow(t *testing.T, name, which string, want map[string]any, got *Record) {
	t.Helper()
	for k, w := range want {
		g, ok := got.Fields[k]
		require.True(t, ok, "%s %s: field %q missing", name, which, k)
		require.True(t, reflect.DeepEqual(w, asJSON(t, g)), "%s %s: field %q:\nwant %#v\n got %#v", name, which, k, w, g)
	}
}

// TestManifestFiles reads every fixture file and checks what the manifest says it holds.
func TestManifestFiles(t *testing.T) {
	dir := parquetFixtures(t)
	m := loadManifest(t, dir)
	for name, mf := range m.Files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, filepath.FromSlash(name))
			st, err := os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, mf.Bytes, st.Size(), "fixture size differs from the manifest")

			recs, r := readAllRecords(t, path, Options{})
			require.EqualValues(t, mf.NumRows, len(recs))
			switch mf.Format {
			case "parquet":
				require.Equal(t, FormatParquet, r.Format())
			case "arrow-ipc-file":
				require.Equal(t, FormatArrowFile, r.Format())
			case "arrow-ipc-stream":
				require.Equal(t, FormatArrowStream, r.Format())
			default:
				t.Fatalf("unknown manifest format %q", mf.Format)
			}
			checkRow(t, name, "first row", mf.FirstRow, recs[0])
			checkRow(t, name, "last row", mf.LastRow, recs[len(recs)-1])
			for i, rec := range recs {
				require.EqualValues(t, i, rec.Row)
				require.Equal(t, path, rec.Source)
			}
			if mf.TextSHA256 != "" {
				require.Equal(t, mf.TextSHA256, textHash(t, recs, "text"))
				// Text is the "text" column itself.
				require.Equal(t, recs[0].Fields["text"], recs[0].Text)
			}
			if mf.MessagesSHA256 != "" {
				h := sha256.New()
				total := 0
				for _, rec := range recs {
					msgs, err := rec.Messages("messages")
					require.NoError(t, err)
					for _, msg := range msgs {
						h.Write([]byte(msg.Role + "\x1f" + msg.Content + "\x1e"))
					}
					total += len(msgs)
					h.Write([]byte{0x1d})
				}
				require.Equal(t, mf.MessagesSHA256, hex.EncodeToString(h.Sum(nil)))
				require.Equal(t, mf.TotalMessages, total)
			}

			info, err := Inspect(path, Options{}, 2)
			require.NoError(t, err)
			require.Equal(t, mf.NumRows, info.Rows)
			require.Len(t, info.Shards, 1)
			require.Len(t, info.Sample, 2)
			if mf.RowGroups != nil {
				require.Equal(t, mf.RowGroups, info.Shards[0].RowGroups)
				require.True(t, info.RowsFromMetadata)
			}
			if mf.RecordBatches != nil {
				require.Equal(t, mf.RecordBatches, info.Shards[0].Batches)
			}
			var cols []string
			for _, c := range info.Columns {
				cols = append(cols, c.Name)
			}
			var wantCols []string
			for _, c := range mf.Columns {
				p := c["path"].(string)
				if top, _, _ := strings.Cut(p, "."); len(wantCols) == 0 || wantCols[len(wantCols)-1] != top {
					wantCols = append(wantCols, top)
				}
			}
			for _, c := range mf.Schema {
				wantCols = append(wantCols, c["name"].(string))
			}
			require.Equal(t, wantCols, cols)
		})
	}
}

// TestManifestSplits reads the Hugging Face folder split by split.
func TestManifestSplits(t *testing.T) {
	dir := parquetFixtures(t)
	m := loadManifest(t, dir)
	require.NotEmpty(t, m.Splits)
	for folder, splits := range m.Splits {
		root := filepath.Join(dir, folder)
		lay, err := ResolveFolder(root, Options{})
		require.NoError(t, err)
		require.Equal(t, "readme", lay.Source)
		var names []string
		for name, raw := range splits {
			var sp manifestSplit
			if json.Unmarshal(raw, &sp) != nil || sp.Files == nil {
				continue // the "source" note
			}
			names = append(names, name)
			t.Run(folder+"/"+name, func(t *testing.T) {
				got, err := lay.pickSplit(root, name)
				require.NoError(t, err)
				var want []string
				for _, f := range sp.Files {
					want = append(want, filepath.Join(root, filepath.FromSlash(f)))
				}
				require.Equal(t, want, got.Files, "shards and their order")

				recs, r := readAllRecords(t, root, Options{Split: name})
				require.Equal(t, FormatParquet, r.Format())
				require.EqualValues(t, sp.NumRows, len(recs))
				require.Equal(t, sp.TextSHA256, textHash(t, recs, "text"))
				// Shards are read in order: the sources change exactly at shard boundaries.
				var seen []string
				for _, rec := range recs {
					if len(seen) == 0 || seen[len(seen)-1] != rec.Source {
						seen = append(seen, rec.Source)
						require.Zero(t, rec.Row, "row numbers restart with each shard")
					}
				}
				require.Equal(t, want, seen)

				info, err := Inspect(root, Options{Split: name}, 1)
				require.NoError(t, err)
				require.Equal(t, name, info.Split)
				require.Equal(t, sp.NumRows, info.Rows)
				require.True(t, info.RowsFromMetadata)
				require.Len(t, info.Shards, len(sp.Files))
			})
		}
		require.ElementsMatch(t, names, splitNames(lay))
	}
}

func splitNames(l *Layout) []string {
	var out []string
	for _, s := range l.Splits {
		out = append(out, s.Name)
	}
	return out
}

// TestDefaultSplitIsTrain opens a folder without naming a split.
func TestDefaultSplitIsTrain(t *testing.T) {
	root := filepath.Join(parquetFixtures(t), "tinyshakespeare-hf")
	r, err := Open(root, Options{})
	require.NoError(t, err)
	defer r.Close()
	rec, err := r.Next()
	require.NoError(t, err)
	require.Contains(t, rec.Source, "train-00000-of-00002")

	_, err = Open(root, Options{Split: "test"})
	require.Error(t, err)
	require.Contains(t, err.Error(), `no split "test" (available: train, validation)`)

	_, err = Open(root, Options{Config: "nope"})
	require.ErrorContains(t, err, `no config "nope" (available: default)`)
}

// TestWikitextColumns checks column selection and the typed values of the v2-page file.
func TestWikitextColumns(t *testing.T) {
	dir := parquetFixtures(t)
	m := loadManifest(t, dir)
	mf := m.Files["wikitext-snappy-v2.parquet"]
	path := filepath.Join(dir, "wikitext-snappy-v2.parquet")

	for _, tc := range []struct {
		cols []string
		text string
	}{
		{[]string{"line", "score"}, ""},
		{[]string{"score"}, ""},
		{[]string{"line"}, "text"},
		{[]string{"text"}, ""},
	} {
		recs, r := readAllRecords(t, path, Options{Columns: tc.cols, TextColumn: tc.text})
		require.EqualValues(t, mf.NumRows, len(recs))
		require.Equal(t, tc.cols, columnNames(r.Columns()))
		for _, rec := range recs {
			require.Len(t, rec.Fields, len(tc.cols), "only the selected columns")
		}
		first, last := recs[0], recs[len(recs)-1]
		for _, c := range tc.cols {
			require.Equal(t, asJSON(t, mf.FirstRow[c]), asJSON(t, first.Fields[c]))
			require.Equal(t, asJSON(t, mf.LastRow[c]), asJSON(t, last.Fields[c]))
		}
		if tc.text != "" || slices_contains(tc.cols, "text") {
			require.Equal(t, mf.FirstRow["text"], first.Text)
		} else {
			require.Empty(t, first.Text, "no string column selected, no text")
		}
	}

	// Typed accessors and the source relation of the columns.
	recs, _ := readAllRecords(t, path, Options{})
	prev := int64(0)
	for _, rec := range recs {
		line, err := rec.Int("line")
		require.NoError(t, err)
		require.Greater(t, line, prev, "line numbers increase")
		prev = line
		score, err := rec.Float("score")
		require.NoError(t, err)
		text, err := rec.String("text")
		require.NoError(t, err)
		require.Equal(t, float64(float32(float64(len(text))/100)), score, "score = float32(len/100)")
		_, err = rec.Int("score")
		if score != float64(int64(score)) {
			require.ErrorContains(t, err, "not an integer")
		}
	}
	_, err := recs[5].String("nope")
	require.ErrorContains(t, err, `row 5: field "nope" not found (available: line, score, text)`)
	require.ErrorIs(t, func() error { _, err := Open(path, Options{Columns: []string{"txt"}}); return err }(), ErrMissingColumn)
	_, err = Open(path, Options{TextColumn: "body"})
	require.ErrorContains(t, err, `text column "body" not found (available: text, line, score)`)
}

func slices_contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestChatRendering renders the chat column into Record.Text.
func TestChatRendering(t *testing.T) {
	dir := parquetFixtures(t)
	path := filepath.Join(dir, "chat-messages.parquet")
	recs, _ := readAllRecords(t, path, Options{Columns: []string{"id"}, TextColumn: "messages"})
	require.Equal(t, "system: You are a player in a Shakespeare scene. Answer with the next speech.\n\n"+
		"user: First Citizen:\nBefore we proceed any further, hear me speak.\n\n"+
		"assistant: All:\nSpeak, speak.", recs[0].Text)
	require.Equal(t, []string{"id"}, sortedKeys(recs[0].Fields))

	custom := func(msgs []Message) string {
		var b strings.Builder
		for _, m := range msgs {
			b.WriteString("<|" + m.Role + "|>" + m.Content)
		}
		return b.String()
	}
	recs, _ = readAllRecords(t, path, Options{ChatFormat: custom})
	require.True(t, strings.HasPrefix(recs[1].Text, "<|user|>"), recs[1].Text)
	content, err := recs[0].String("messages.1.content")
	require.NoError(t, err)
	require.Equal(t, "First Citizen:\nBefore we proceed any further, hear me speak.", content)
	_, err = recs[0].String("messages.9.content")
	require.ErrorContains(t, err, `index "9" out of range (list of 3)`)
}

// TestSniffIgnoresExtension reads an IPC stream named .arrow and an IPC file named .bin.
func TestSniffIgnoresExtension(t *testing.T) {
	dir := parquetFixtures(t)
	tmp := t.TempDir()
	for _, tc := range []struct{ src, dst string }{
		{"tinystories.arrows", "data-00000-of-00001.arrow"},
		{"tinystories.arrow", "stories.bin"},
		{"wikitext-snappy-v2.parquet", "wiki.data"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, tc.src))
		require.NoError(t, err)
		p := filepath.Join(tmp, tc.dst)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		orig, r0 := readAllRecords(t, filepath.Join(dir, tc.src), Options{})
		got, r1 := readAllRecords(t, p, Options{})
		require.Equal(t, r0.Format(), r1.Format(), tc.dst)
		require.Equal(t, len(orig), len(got))
		require.Equal(t, orig[len(orig)-1].Fields, got[len(got)-1].Fields)
	}
	// Forcing "arrow" still reads a stream, and forcing parquet on arrow bytes is an error.
	recs, r := readAllRecords(t, filepath.Join(dir, "tinystories.arrows"), Options{Format: FormatArrowFile})
	require.Len(t, recs, 19)
	require.Equal(t, FormatArrowStream, r.Format())
	_, err := Open(filepath.Join(dir, "tinystories.arrow"), Options{Format: FormatParquet})
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestTextModesMatchFixtures cuts the raw text files the fixtures were made from and checks
// that our text reader yields the same records as the independent writers stored.
func TestTextModesMatchFixtures(t *testing.T) {
	shared := sharedDir(t)
	dir := parquetFixtures(t)
	m := loadManifest(t, dir)

	// Tiny Shakespeare paragraphs: the first 6499 are train, the rest validation.
	recs, _ := readAllRecords(t, filepath.Join(shared, "datasets", "tinyshakespeare.txt"), Options{TextMode: TextParagraphs})
	var train, valid manifestSplit
	require.NoError(t, json.Unmarshal(m.Splits["tinyshakespeare-hf"]["train"], &train))
	require.NoError(t, json.Unmarshal(m.Splits["tinyshakespeare-hf"]["validation"], &valid))
	require.EqualValues(t, train.NumRows+valid.NumRows, len(recs))
	require.Equal(t, train.TextSHA256, textHash(t, recs[:train.NumRows], "text"))
	require.Equal(t, valid.TextSHA256, textHash(t, recs[train.NumRows:], "text"))
	require.EqualValues(t, 1, recs[0].Line)

	// WikiText lines, empty ones skipped, "\r" removed: the wikitext parquet's text column,
	// and Line is the parquet's line column.
	recs, _ = readAllRecords(t, filepath.Join(shared, "datasets", "wikitext-2-raw-test.txt"), Options{TextMode: TextLines})
	wiki := m.Files["wikitext-snappy-v2.parquet"]
	require.EqualValues(t, wiki.NumRows, len(recs))
	require.Equal(t, wiki.TextSHA256, textHash(t, recs, "text"))
	pq, _ := readAllRecords(t, filepath.Join(dir, "wikitext-snappy-v2.parquet"), Options{Columns: []string{"line"}})
	for i := range recs {
		require.Equal(t, pq[i].Fields["line"], recs[i].Line)
	}

	// The whole file as one document.
	recs, _ = readAllRecords(t, filepath.Join(shared, "datasets", "tinystories-valid-sample.txt"), Options{})
	require.Len(t, recs, 1)
	raw, err := os.ReadFile(filepath.Join(shared, "datasets", "tinystories-valid-sample.txt"))
	require.NoError(t, err)
	require.Equal(t, string(raw), recs[0].Text)
}

// TestReadersAreIndependentOfBatchSize reads a fixture with several Parquet batch sizes.
func TestReadersAreIndependentOfBatchSize(t *testing.T) {
	path := filepath.Join(parquetFixtures(t), "chat-messages.parquet")
	want, _ := readAllRecords(t, path, Options{})
	for _, bs := range []int{1, 7, 100, 4096} {
		got, _ := readAllRecords(t, path, Options{BatchSize: bs})
		require.Equal(t, len(want), len(got))
		for i := range want {
			require.Equal(t, want[i].Fields, got[i].Fields, "batch size %d row %d", bs, i)
		}
	}
}

// TestCloseThenValues makes sure values outlive the reader (strings are copied out of
// memory-mapped Arrow buffers).
func TestCloseThenValues(t *testing.T) {
	path := filepath.Join(parquetFixtures(t), "tinystories.arrow")
	r, err := Open(path, Options{})
	require.NoError(t, err)
	rec, err := r.Next()
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.True(t, strings.HasPrefix(rec.Text, "once upon a time"))
	_, err = r.Next()
	require.ErrorIs(t, err, ErrClosed)
}

// asJSONBytes marshals v.
func asJSONBytes(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
