package eval

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// arcSchema is the column layout of the Hugging Face allenai/ai2_arc Parquet files.
var arcSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "question", Type: arrow.BinaryTypes.String},
	{Name: "choices", Type: arrow.StructOf(
		arrow.Field{Name: "text", Type: arrow.ListOf(arrow.BinaryTypes.String)},
		arrow.Field{Name: "label", Type: arrow.ListOf(arrow.BinaryTypes.String)})},
	{Name: "answerKey", Type: arrow.BinaryTypes.String},
}, nil)

// writeParquet converts JSON Lines rows of schema sc into a Parquet file with one row per row
// group and returns its path.
func writeParquet(t *testing.T, sc *arrow.Schema, jsonl, name string) string {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader("["+strings.Join(strings.Split(strings.TrimSpace(jsonl), "\n"), ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Uncompressed), parquet.WithMaxRowGroupLength(1), parquet.WithDictionaryDefault(false))
	w, err := pqarrow.NewFileWriter(sc, &buf, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadTaskParquet(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "tasks", "arc.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	p := writeParquet(t, arcSchema, string(src), "arc.parquet")
	fromJSONL, err := LoadTask(filepath.Join("testdata", "tasks", "arc.jsonl"), TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	task, err := LoadTask(p, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if task.Layout != LayoutARC || len(task.Examples) != len(fromJSONL.Examples) {
		t.Fatalf("parquet: layout %q, %d examples", task.Layout, len(task.Examples))
	}
	for i := range task.Examples {
		a, b := task.Examples[i], fromJSONL.Examples[i]
		if a.Context != b.Context || !reflect.DeepEqual(a.Choices, b.Choices) || a.Gold != b.Gold {
			t.Errorf("example %d differs between Parquet and JSONL: %+v vs %+v", i, a, b)
		}
	}

	// Damage the first page of row group 1: the error names the file and the row group.
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := file.OpenParquetFile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := pf.MetaData().RowGroup(1).ColumnChunk(1)
	if err != nil {
		t.Fatal(err)
	}
	off := cc.DataPageOffset()
	pf.Close()
	for i := int64(0); i < 12; i++ {
		raw[off+i] = 0xff
	}
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadTask(p, TaskOptions{})
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "row group 1") {
		t.Errorf("corrupt page: error %v does not name %s and row group 1", err, p)
	}

	// A missing column is named.
	piqa := arrow.NewSchema([]arrow.Field{{Name: "goal", Type: arrow.BinaryTypes.String}, {Name: "sol1", Type: arrow.BinaryTypes.String}, {Name: "label", Type: arrow.PrimitiveTypes.Int64}}, nil)
	p2 := writeParquet(t, piqa, `{"goal": "g", "sol1": "s", "label": 0}`, "piqa.parquet")
	_, err = LoadTask(p2, TaskOptions{Layout: LayoutPIQA})
	if err == nil || !strings.Contains(err.Error(), "sol2") || !strings.Contains(err.Error(), "piqa.parquet") {
		t.Errorf("missing column: error %v does not name the file and sol2", err)
	}
}
