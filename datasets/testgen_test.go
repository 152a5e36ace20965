package datasets

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"
)

// Small datasets written by arrow-go's own writers, for tests that must run without
// ../shared and for the fuzz seed corpora.

// mcSchema mixes the shapes of the multiple-choice tasks the eval stage reads: ARC
// (question, choices{text, label}, answerKey), HellaSwag (ctx, endings, label as a string),
// PIQA (goal, sol1, sol2, label as an int), plus a float and a chat column.
var mcSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "question", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "choices", Type: arrow.StructOf(
		arrow.Field{Name: "text", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		arrow.Field{Name: "label", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	), Nullable: true},
	{Name: "answerKey", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "endings", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "label", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "messages", Type: arrow.ListOf(arrow.StructOf(
		arrow.Field{Name: "role", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "content", Type: arrow.BinaryTypes.String, Nullable: true},
	)), Nullable: true},
}, nil)

// mcRows returns n JSON rows for mcSchema; row i is predictable from i.
func mcRows(n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		d := string(rune('0' + i%10))
		b.WriteString(`{"id":"q` + d + `","question":"Which is ` + d + `?","choices":{"text":["a` + d + `","b` + d + `","c` + d + `"],"label":["A","B","C"]},` +
			`"answerKey":"B","endings":["e1","e2"],"label":` + d + `,"score":0.5,"ok":true,` +
			`"messages":[{"role":"user","content":"hi ` + d + `"},{"role":"assistant","content":"yo"}]}`)
	}
	b.WriteString("]")
	return b.String()
}

// mcRecord builds a record batch of n rows of mcSchema.
func mcRecord(t testing.TB, n int) arrow.RecordBatch {
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, mcSchema, strings.NewReader(mcRows(n)))
	require.NoError(t, err)
	return rec
}

// textSchema is a single nullable string column, like the Hugging Face text datasets.
var textSchema = arrow.NewSchema([]arrow.Field{{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)

// textRecord builds a batch of the given strings.
func textRecord(texts ...string) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, textSchema)
	defer b.Release()
	for _, s := range texts {
		b.Field(0).(*array.StringBuilder).Append(s)
	}
	return b.NewRecordBatch()
}

// parquetBytes writes batches as a Parquet file with rowGroup rows per row group.
func parquetBytes(t testing.TB, sc *arrow.Schema, batches []arrow.RecordBatch, rowGroup int64, codec compress.Compression) []byte {
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(codec), parquet.WithMaxRowGroupLength(rowGroup))
	w, err := pqarrow.NewFileWriter(sc, &buf, props, pqarrow.DefaultWriterProps())
	require.NoError(t, err)
	for _, b := range batches {
		require.NoError(t, w.WriteBuffered(b))
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// arrowBytes writes batches in the IPC file (stream false) or stream format and returns the
// file and the offset just after each batch's message.
func arrowBytes(t testing.TB, sc *arrow.Schema, batches []arrow.RecordBatch, stream bool) ([]byte, []int) {
	var buf bytes.Buffer
	var ends []int
	if stream {
		w := ipc.NewWriter(&buf, ipc.WithSchema(sc))
		for _, b := range batches {
			require.NoError(t, w.Write(b))
			ends = append(ends, buf.Len())
		}
		require.NoError(t, w.Close())
	} else {
		w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(sc))
		require.NoError(t, err)
		for _, b := range batches {
			require.NoError(t, w.Write(b))
			ends = append(ends, buf.Len())
		}
		require.NoError(t, w.Close())
	}
	return buf.Bytes(), ends
}

// writeFile writes b to path.
func writeFile(t testing.TB, path string, b []byte) string {
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

// storyBatches returns batches of short stories: batch i holds per rows.
func storyBatches(n, per int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for i := 0; i < n; i++ {
		var texts []string
		for j := 0; j < per; j++ {
			texts = append(texts, strings.Repeat(string(rune('a'+(i*per+j)%26)), 5+j)+" story")
		}
		out = append(out, textRecord(texts...))
	}
	return out
}
