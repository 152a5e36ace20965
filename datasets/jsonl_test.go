package datasets

import (
	"bytes"
	"compress/gzip"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJSONLErrors checks that bad JSON Lines input gives errors naming the file and line.
func TestJSONLErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		opts       Options
		okRows     int    // records read before the error
		want       string // substring of the error, after "<path>: "
	}{
		{"not json", "{\"text\":\"a\"}\n{\"text\":\"b\"}\n{text: c}\n", Options{}, 2, "line 3: not valid JSON"},
		{"truncated", "{\"text\":\"a\"}\n{\"text\":\"b", Options{}, 1, "line 2: not valid JSON"},
		{"blank lines counted", "\n\n{\"text\":\"a\"}\n\n[1,2]\n", Options{}, 1, "line 5: not a JSON object (found a list)"},
		{"string line", "\"hello\"\n", Options{}, 0, "line 1: not a JSON object (found a string)"},
		{"trailing garbage", "{\"text\":\"a\"} x\n", Options{}, 0, "line 1: not valid JSON: unexpected data after the object"},
		{"two objects", "{\"a\":1}{\"a\":2}\n", Options{}, 0, "line 1: not valid JSON: unexpected data after the object"},
		{"missing text field first line", "{\"body\":\"a\"}\n", Options{TextColumn: "text"}, 0,
			`line 1: text field "text" not found (available: body)`},
		{"missing text field later", "{\"text\":\"a\",\"n\":1}\n{\"txt\":\"b\",\"n\":2}\n", Options{TextColumn: "text"}, 1,
			`line 2: text field "text" not found (available: n, txt)`},
		{"missing column", "{\"ctx\":\"a\",\"label\":1}\n{\"ctx\":\"b\"}\n", Options{Columns: []string{"ctx", "label"}}, 1,
			`line 2: field "label" not found (available: ctx)`},
		{"unknown column", "{\"ctx\":\"a\"}\n", Options{Columns: []string{"endings"}}, 0,
			`line 1: field "endings" not found (available: ctx)`},
		{"struct text", "{\"text\":{\"a\":1}}\n", Options{}, 0, `line 1: text column "text" is a struct, which has no text form`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, filepath.Join(t.TempDir(), "data.jsonl"), []byte(tc.data))
			r, err := Open(p, tc.opts)
			require.NoError(t, err)
			defer r.Close()
			n := 0
			for {
				_, err = r.Next()
				if err != nil {
					break
				}
				n++
			}
			require.Equal(t, tc.okRows, n)
			require.ErrorContains(t, err, p+": "+tc.want)
			_, again := r.Next()
			require.Equal(t, err, again, "errors are final")
			if tc.opts.Columns != nil || tc.opts.TextColumn != "" {
				require.ErrorIs(t, err, ErrMissingColumn, "missing fields match ErrMissingColumn unless the text has no form")
			}
		})
	}
}

// TestJSONLValues checks value normalization, text selection, line numbers and key order.
func TestJSONLValues(t *testing.T) {
	data := "\ufeff" + `{"id": 7, "ctx": "A man", "endings": ["runs", "sits"], "label": "1", "f": 2.5, "big": 1e300, "n": null, "ok": true, "nested": {"x": [1, {"y": -3}]}}` + "\r\n" +
		"\n" +
		`{"id": 9007199254740993, "ctx": "B", "endings": [], "label": "0", "f": -0.0, "big": 12345678901234567890, "n": 1, "ok": false, "nested": {}}` + "\n"
	p := writeFile(t, filepath.Join(t.TempDir(), "hellaswag.jsonl"), []byte(data))
	recs, r := readAllRecords(t, p, Options{})
	require.Equal(t, FormatJSONL, r.Format())
	require.Len(t, recs, 2)
	require.Equal(t, []Column{
		{"id", "int"}, {"ctx", "string"}, {"endings", "list<string>"}, {"label", "string"}, {"f", "float"},
		{"big", "float"}, {"n", "null"}, {"ok", "bool"}, {"nested", "struct<x: list<int>>"},
	}, r.Columns(), "columns in document order with JSON types")

	a, b := recs[0], recs[1]
	require.EqualValues(t, 1, a.Line)
	require.EqualValues(t, 3, b.Line, "blank lines still count")
	require.EqualValues(t, 0, a.Row)
	require.EqualValues(t, 1, b.Row)
	require.Equal(t, "A man", a.Text, "the first string column is the text when there is no text/content field")
	require.Equal(t, int64(7), a.Fields["id"])
	require.Equal(t, int64(9007199254740993), b.Fields["id"], "integers keep all 64 bits")
	require.Equal(t, 2.5, a.Fields["f"])
	require.Equal(t, 12345678901234567890.0, b.Fields["big"], "integers beyond int64 become floats")
	require.Nil(t, a.Fields["n"])
	require.Equal(t, []any{int64(1), map[string]any{"y": int64(-3)}}, a.Fields["nested"].(map[string]any)["x"])

	label, err := a.Int("label")
	require.NoError(t, err)
	require.Equal(t, int64(1), label, "string labels parse as integers")
	endings, err := a.Strings("endings")
	require.NoError(t, err)
	require.Equal(t, []string{"runs", "sits"}, endings)
	empty, err := b.Strings("endings")
	require.NoError(t, err)
	require.Empty(t, empty)
	y, err := a.Int("nested.x.1.y")
	require.NoError(t, err)
	require.Equal(t, int64(-3), y)
	_, err = a.Int("ctx")
	require.ErrorContains(t, err, p+`: line 1: field "ctx" is a string "A man", not an integer`)
	_, err = a.Get("nested.z")
	require.ErrorContains(t, err, `line 1: field "nested.z" not found (available: x)`)
	_, err = a.Get("ctx.x")
	require.ErrorContains(t, err, `field "ctx" is a string, not a struct or list`)
	_, err = a.Strings("nested")
	require.ErrorContains(t, err, "is a struct, not a list")
	f, err := a.Float("label")
	require.NoError(t, err)
	require.Equal(t, 1.0, f)
	s, err := a.String("ok")
	require.NoError(t, err)
	require.Equal(t, "true", s)
	_, err = a.String("n")
	require.ErrorContains(t, err, "is null, not a string")
}

// TestJSONVariants reads JSON arrays, gzip-compressed JSON Lines and chat records.
func TestJSONVariants(t *testing.T) {
	tmp := t.TempDir()

	arr := writeFile(t, filepath.Join(tmp, "arc.json"), []byte(` [
  {"question": "Q1", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "B"},
  {"question": "Q2", "choices": {"text": ["c", "d"], "label": ["A", "B"]}, "answerKey": "A"}
]`))
	recs, r := readAllRecords(t, arr, Options{})
	require.Equal(t, FormatJSON, r.Format())
	require.Len(t, recs, 2)
	texts, err := recs[1].Strings("choices.text")
	require.NoError(t, err)
	require.Equal(t, []string{"c", "d"}, texts)
	key, err := recs[1].String("answerKey")
	require.NoError(t, err)
	require.Equal(t, "A", key)
	require.Equal(t, "Q1", recs[0].Text)

	bad := writeFile(t, filepath.Join(tmp, "bad.json"), []byte(`[{"a": 1}, {"a": 2,}]`))
	_, err = readEverything(t, bad, Options{})
	require.ErrorContains(t, err, bad+": array element 1")

	// A .json file holding JSON Lines is read as JSON Lines.
	lines := writeFile(t, filepath.Join(tmp, "lines.json"), []byte("{\"text\":\"x\"}\n{\"text\":\"y\"}\n"))
	recs, r = readAllRecords(t, lines, Options{})
	require.Equal(t, FormatJSONL, r.Format())
	require.Len(t, recs, 2)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write([]byte("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]}\n" +
		"{\"messages\":[{\"from\":\"human\",\"value\":\"a\"},{\"from\":\"gpt\",\"value\":null}]}\n"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	zp := writeFile(t, filepath.Join(tmp, "chat.jsonl.gz"), gz.Bytes())
	recs, _ = readAllRecords(t, zp, Options{})
	require.Len(t, recs, 2)
	require.Equal(t, "user: hi\n\nassistant: hello", recs[0].Text)
	require.Equal(t, "human: a\n\ngpt: ", recs[1].Text, "ShareGPT from/value, null content")
	msgs, err := recs[0].Messages("messages")
	require.NoError(t, err)
	require.Equal(t, []Message{{"user", "hi"}, {"assistant", "hello"}}, msgs)
	_, err = recs[0].Messages("messages.0")
	require.ErrorContains(t, err, "not a list of {role, content}")
}

// TestTextModes cuts text files into records.
func TestTextModes(t *testing.T) {
	data := "first line\r\nsecond line\r\n\r\n\r\n  \nthird\nfourth\n\nlast"
	p := writeFile(t, filepath.Join(t.TempDir(), "corpus.txt"), []byte(data))
	for _, tc := range []struct {
		opts  Options
		texts []string
		lines []int64
	}{
		{Options{}, []string{data}, []int64{1}},
		{Options{TextMode: TextLines}, []string{"first line", "second line", "  ", "third", "fourth", "last"}, []int64{1, 2, 5, 6, 7, 9}},
		{Options{TextMode: TextLines, KeepEmpty: true}, []string{"first line", "second line", "", "", "  ", "third", "fourth", "", "last"},
			[]int64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{Options{TextMode: TextParagraphs}, []string{"first line\nsecond line", "  \nthird\nfourth", "last"}, []int64{1, 5, 9}},
	} {
		recs, r := readAllRecords(t, p, tc.opts)
		require.Equal(t, FormatText, r.Format())
		var texts []string
		var lines []int64
		for _, rec := range recs {
			texts = append(texts, rec.Text)
			lines = append(lines, rec.Line)
			require.Equal(t, rec.Text, rec.Fields["text"])
		}
		require.Equal(t, tc.texts, texts, tc.opts.TextMode.String())
		require.Equal(t, tc.lines, lines, tc.opts.TextMode.String())
	}
	_, err := Open(p, Options{Columns: []string{"body"}})
	require.ErrorContains(t, err, `column "body" not found (available: text)`)

	// A very long line (past bufio's buffer) survives intact.
	long := bytes.Repeat([]byte("x"), 3<<20)
	lp := writeFile(t, filepath.Join(t.TempDir(), "long.txt"), append(append([]byte("a\n"), long...), "\nb\n"...))
	recs, _ := readAllRecords(t, lp, Options{TextMode: TextLines})
	require.Len(t, recs, 3)
	require.Equal(t, string(long), recs[1].Text)
}

// TestParseNames covers the option parsers the CLI uses.
func TestParseNames(t *testing.T) {
	for in, want := range map[string]Format{"": FormatAuto, "Parquet": FormatParquet, "arrow": FormatArrowFile,
		"arrows": FormatArrowStream, "ndjson": FormatJSONL, "json": FormatJSON, "txt": FormatText, "hf": FormatHF} {
		got, err := ParseFormat(in)
		require.NoError(t, err)
		require.Equal(t, want, got, in)
	}
	_, err := ParseFormat("csv")
	require.ErrorContains(t, err, `unknown format "csv"`)
	for in, want := range map[string]TextMode{"": TextWhole, "lines": TextLines, "paragraphs": TextParagraphs} {
		got, err := ParseTextMode(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, got, must(ParseTextMode(got.String())))
	}
	_, err = ParseTextMode("sentences")
	require.Error(t, err)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
