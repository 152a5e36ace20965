// Writes dict-large.arrow (an Arrow IPC file, "ARROW1" magic) and dict-large.arrows (the same
// batches as an IPC stream) with Arrow JS, a writer independent of arrow-go, plus
// dict-large.json with the rows they hold. The columns are
//
//   id    int32
//   text  large_string                (LargeUtf8: 64-bit offsets)
//   label dictionary<int32, utf8>     (one dictionary, id 0, grown by a delta per batch)
//
// over three record batches. The label dictionary builder is flushed once per batch and keeps
// its earlier entries, so the writer emits the first dictionary batch and then delta
// dictionary batches (isDelta) carrying only the new labels: the IPC file format allows deltas
// but not replacements. Nulls appear in both text and label.
//
// Run from this folder: npm ci && node make_dict_arrow.mjs
import { writeFileSync } from 'node:fs';
import {
  Dictionary, Field, Int32, LargeUtf8, RecordBatch, RecordBatchFileWriter,
  RecordBatchStreamWriter, Schema, Struct, Utf8, makeBuilder, makeData,
} from 'apache-arrow';

const batches = [
  [
    [0, 'First line of the large_string column.', 'alpha'],
    [1, 'Zweite Zeile, mit Umlauten: äöü.', 'beta'],
    [2, null, 'alpha'],
  ],
  [
    [3, 'A batch that adds a label: gamma.', 'gamma'],
    [4, 'Multi-line\ntext\tand a tab.', null],
    [5, '', 'beta'],
  ],
  [
    [6, 'Last batch, label delta again 🙂', 'delta'],
    [7, 'Seven.', 'gamma'],
  ],
];

const labelType = new Dictionary(new Utf8(), new Int32(), 0, false);
const fields = [
  new Field('id', new Int32(), false),
  new Field('text', new LargeUtf8(), true),
  new Field('label', labelType, true),
];
const schema = new Schema(fields);

// One label builder for all batches: its dictionary grows, so later batches carry deltas.
const labels = makeBuilder({ type: labelType, nullValues: [null] });
const records = [];
for (const rows of batches) {
  const ids = makeBuilder({ type: new Int32() });
  const texts = makeBuilder({ type: new LargeUtf8(), nullValues: [null] });
  for (const [id, text, label] of rows) {
    ids.append(id);
    texts.append(text);
    labels.append(label);
  }
  const children = [ids.flush(), texts.flush(), labels.flush()];
  const data = makeData({ type: new Struct(fields), length: rows.length, nullCount: 0, children });
  records.push(new RecordBatch(schema, data));
}

writeFileSync('../dict-large.arrow', RecordBatchFileWriter.writeAll(records).toUint8Array(true));
writeFileSync('../dict-large.arrows', RecordBatchStreamWriter.writeAll(records).toUint8Array(true));
const expected = batches.flat().map(([id, text, label]) => ({ id, text, label }));
writeFileSync('../dict-large.json', JSON.stringify({
  writer: { package: 'apache-arrow', version: '21.2.0' },
  batches: batches.map((b) => b.length),
  rows: expected,
}, null, 1) + '\n');
