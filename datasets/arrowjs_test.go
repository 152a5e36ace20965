package datasets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dictLarge is testdata/dict-large.json: the rows Arrow JS wrote into testdata/dict-large.arrow
// (IPC file) and testdata/dict-large.arrows (IPC stream), see testdata/arrowjs.
type dictLarge struct {
	Batches []int            `json:"batches"`
	Rows    []map[string]any `json:"rows"`
}

// TestArrowJSDictionaryLargeString reads the Arrow JS files with a large_string column and a
// dictionary<int32, utf8> column whose dictionary grows by delta batches: the text comes from
// the large_string column and the dictionary column decodes to its string values, in the IPC
// file (which arrow-go's mapped reader could not open: "assignment to entry in nil map") and
// in the stream.
func TestArrowJSDictionaryLargeString(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "dict-large.json"))
	require.NoError(t, err)
	var want dictLarge
	require.NoError(t, json.Unmarshal(b, &want))
	require.NotEmpty(t, want.Rows)
	for _, tc := range []struct {
		file   string
		format Format
		opts   Options
		cols   []string // the columns read
		text   string   // the column rendered into Text
	}{
		{"dict-large.arrow", FormatArrowFile, Options{}, []string{"id", "text", "label"}, "text"},
		{"dict-large.arrows", FormatArrowStream, Options{}, []string{"id", "text", "label"}, "text"},
		// Only the dictionary column: it is the first string column, so the text.
		{"dict-large.arrow", FormatArrowFile, Options{Columns: []string{"label"}}, []string{"label"}, "label"},
		{"dict-large.arrows", FormatArrowStream, Options{Columns: []string{"label"}}, []string{"label"}, "label"},
		{"dict-large.arrow", FormatArrowFile, Options{Columns: []string{"label", "text"}, TextColumn: "label"}, []string{"label", "text"}, "label"},
	} {
		t.Run(tc.file+"/"+strings.Join(tc.cols, ",")+"/text="+tc.text, func(t *testing.T) {
			recs, r := readAllRecords(t, filepath.Join("testdata", tc.file), tc.opts)
			require.Equal(t, tc.format, r.Format())
			types := map[string]string{}
			for _, c := range r.Columns() {
				types[c.Name] = c.Type
			}
			for _, c := range tc.cols {
				require.Contains(t, types, c)
			}
			require.Len(t, types, len(tc.cols))
			if _, ok := types["text"]; ok {
				require.Equal(t, "large_utf8", types["text"])
			}
			require.Equal(t, "utf8", types["label"], "a dictionary column has its value type")
			require.Len(t, recs, len(want.Rows))
			for i, rec := range recs {
				w := want.Rows[i]
				for _, c := range tc.cols {
					require.Equal(t, w[c], asJSON(t, rec.Fields[c]), "row %d column %s", i, c)
				}
				wt, _ := w[tc.text].(string)
				require.Equal(t, wt, rec.Text, "row %d text", i)
			}
		})
	}
	info, err := Inspect(filepath.Join("testdata", "dict-large.arrow"), Options{}, 2)
	require.NoError(t, err)
	require.EqualValues(t, len(want.Rows), info.Rows)
}
