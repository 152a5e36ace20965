package datasets

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/stretchr/testify/require"
)

// TestMultipleChoiceRows reads the fields the eval stage needs from Parquet, Arrow IPC file
// and stream copies of the same rows, and checks they agree with the JSON they came from.
func TestMultipleChoiceRows(t *testing.T) {
	tmp := t.TempDir()
	rec := mcRecord(t, 23)
	arrowFile, _ := arrowBytes(t, mcSchema, []arrow.RecordBatch{rec.NewSlice(0, 5), rec.NewSlice(5, 23)}, false)
	arrowStream, _ := arrowBytes(t, mcSchema, []arrow.RecordBatch{rec.NewSlice(0, 20), rec.NewSlice(20, 23)}, true)
	files := map[string][]byte{
		"mc.parquet":   parquetBytes(t, mcSchema, []arrow.RecordBatch{rec}, 10, compress.Codecs.Zstd),
		"mc-lz4.pq":    parquetBytes(t, mcSchema, []arrow.RecordBatch{rec}, 7, compress.Codecs.Lz4Raw),
		"mc.arrow":     arrowFile,
		"mc.arrows":    arrowStream,
		"mc.jsonl":     jsonLines(t, mcRows(23)),
		"mc.json":      []byte(mcRows(23)),
		"mc.jsonl.txt": jsonLines(t, mcRows(23)),
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, filepath.Join(tmp, name), b)
			opts := Options{}
			if name == "mc.jsonl.txt" {
				opts.Format = FormatJSONL
			}
			recs, r := readAllRecords(t, p, opts)
			require.Len(t, recs, 23)
			require.Len(t, r.Columns(), 9)
			for i, rec := range recs {
				d := string(rune('0' + i%10))
				q, err := rec.String("question")
				require.NoError(t, err)
				require.Equal(t, "Which is "+d+"?", q)
				texts, err := rec.Strings("choices.text")
				require.NoError(t, err)
				require.Equal(t, []string{"a" + d, "b" + d, "c" + d}, texts)
				labels, err := rec.Strings("choices.label")
				require.NoError(t, err)
				require.Equal(t, []string{"A", "B", "C"}, labels)
				endings, err := rec.Strings("endings")
				require.NoError(t, err)
				require.Equal(t, []string{"e1", "e2"}, endings)
				label, err := rec.Int("label")
				require.NoError(t, err)
				require.EqualValues(t, i%10, label)
				score, err := rec.Float("score")
				require.NoError(t, err)
				require.Equal(t, 0.5, score)
				require.Equal(t, true, rec.Fields["ok"])
				msgs, err := rec.Messages("messages")
				require.NoError(t, err)
				require.Equal(t, []Message{{"user", "hi " + d}, {"assistant", "yo"}}, msgs)
				require.Equal(t, "user: hi "+d+"\n\nassistant: yo", rec.Text, "no text/content column: the messages column")
				require.EqualValues(t, i, rec.Row)
			}
			// Column selection keeps exactly the requested columns, in file order.
			recs, r = readAllRecords(t, p, Options{Format: opts.Format, Columns: []string{"label", "choices"}, TextColumn: "question"})
			require.Equal(t, []string{"choices", "label"}, columnNames(r.Columns()))
			require.Equal(t, []string{"choices", "label"}, sortedKeys(recs[3].Fields))
			require.Equal(t, "Which is 3?", recs[3].Text)
			recs, _ = readAllRecords(t, p, Options{Format: opts.Format, Columns: []string{"id", "label"}})
			require.Equal(t, "q4", recs[4].Text, "auto text among the selected columns: the first string one")
		})
	}
}

// jsonLines turns a JSON array of objects into JSON Lines.
func jsonLines(t *testing.T, array string) []byte {
	p := writeFile(t, filepath.Join(t.TempDir(), "a.json"), []byte(array))
	recs, _ := readAllRecords(t, p, Options{})
	var out []byte
	for _, rec := range recs {
		out = append(out, asJSONBytes(t, rec.Fields)...)
		out = append(out, '\n')
	}
	return out
}

// TestParquetRowGroups reads a file row group by row group and checks the row counts.
func TestParquetRowGroups(t *testing.T) {
	var batches []arrow.RecordBatch
	var want []string
	for i := 0; i < 50; i++ {
		s := string(rune('A'+i%26)) + "-" + string(rune('a'+i/26))
		want = append(want, s)
		batches = append(batches, textRecord(s))
	}
	p := writeFile(t, filepath.Join(t.TempDir(), "t.parquet"), parquetBytes(t, textSchema, batches, 16, compress.Codecs.Gzip))
	info, err := Inspect(p, Options{}, 0)
	require.NoError(t, err)
	require.Equal(t, []int64{16, 16, 16, 2}, info.Shards[0].RowGroups)
	require.Equal(t, []string{"gzip"}, info.Shards[0].Compression)
	require.Nil(t, info.Sample)
	require.Equal(t, "text", info.TextColumn)
	for _, bs := range []int{1, 3, 16, 1000} {
		recs, _ := readAllRecords(t, p, Options{BatchSize: bs})
		var got []string
		for _, r := range recs {
			got = append(got, r.Text)
		}
		require.Equal(t, want, got)
	}
}
