// Package datasets reads training and evaluation data and turns it into token sequences.
//
// # Reading
//
// [Open] sniffs a path and returns a [Reader] that streams [Record] values one at a time,
// whatever the format underneath:
//
//   - plain text: the whole file as one document, or one record per line or per paragraph
//     ([Options.TextMode]);
//   - JSON Lines (one object per line) and JSON arrays of objects;
//   - Apache Parquet, read one row group at a time;
//   - Arrow IPC, both the file format (ARROW1 magic) and the stream format (what Hugging Face
//     save_to_disk writes, under the .arrow extension), sniffed from the bytes, not the name;
//   - Hugging Face dataset folders: README.md YAML configs mapping data_files globs to splits,
//     save_to_disk folders (dataset_dict.json, state.json), or the file naming conventions
//     (data/train-00000-of-00002.parquet, test.jsonl, validation/…), shards read in order.
//
// A Record carries the document text ([Record.Text]) and every selected column as plain Go
// values ([Record.Fields]): nil, bool, int64, float64, string, []byte, []any (lists) and
// map[string]any (structs). Typed accessors such as [Record.String], [Record.Int] and
// [Record.Strings] walk dotted paths ("choices.text", "endings.0") and return errors that name
// the file, the row and the fields that do exist. Chat-style columns (lists of {role, content})
// are rendered to text by [Options.ChatFormat] or [DefaultChatFormat].
//
// Bad input never panics: a JSONL line that is not JSON is reported with its file and line
// number, corrupt Parquet or Arrow data with the file and row group or record batch (arrow-go
// panics on some corrupt input; the readers recover at their boundary and return an error).
//
// # Tokens
//
// [Pack] tokenizes the documents of a Reader with any [Tokenizer] (in parallel, combined in
// order) and packs the token stream into fixed-length sequences with BOS/EOS separators
// between documents. [Permutation], [Shuffle] and [SplitValidation] give seeded, deterministic
// shuffles and train/validation splits that do not depend on the number of threads.
//
// [Inspect] summarizes a dataset: format, schema, row count (from metadata where the format
// records it), row groups, shards, splits and a sample of rows.
package datasets
