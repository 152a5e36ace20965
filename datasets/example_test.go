package datasets_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/mcompress/mcompress/datasets"
)

// Reading a multiple-choice task: the typed accessors take dotted paths and parse HellaSwag's
// string labels.
func ExampleOpen() {
	r, err := datasets.Open("testdata/hellaswag-mini.jsonl", datasets.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for rec, err := range datasets.Records(r) {
		if err != nil {
			log.Fatal(err)
		}
		ctx, _ := rec.String("ctx")
		endings, _ := rec.Strings("endings")
		label, _ := rec.Int("label")
		fmt.Printf("line %d: %s … %s\n", rec.Line, ctx[:12], endings[label])
	}
	// Output:
	// line 1: A man is sit … starts pulling up roofing on a roof.
	// line 2: A lady walks … stands and lifts the weight over her head.
}

// Plain text cut into paragraphs, one record each.
func ExampleOpen_paragraphs() {
	r, err := datasets.Open("testdata/speeches.txt", datasets.Options{TextMode: datasets.TextParagraphs})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	recs, err := datasets.ReadAll(r, 0)
	if err != nil {
		log.Fatal(err)
	}
	for _, rec := range recs {
		fmt.Printf("%d: %q\n", rec.Line, rec.Text)
	}
	// Output:
	// 1: "First Citizen:\nBefore we proceed any further, hear me speak."
	// 4: "All:\nSpeak, speak."
	// 7: "First Citizen:\nYou are all resolved rather to die than to famish?"
}

// Chat records are rendered to text by a ChatFormat; the messages stay available as fields.
func ExampleChatFormat() {
	chatML := func(msgs []datasets.Message) string {
		var b strings.Builder
		for _, m := range msgs {
			fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", m.Role, m.Content)
		}
		return b.String()
	}
	r, err := datasets.Open("testdata/chat-mini.jsonl", datasets.Options{ChatFormat: chatML})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	rec, err := r.Next()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(rec.Text)
	// Output:
	// <|im_start|>user
	// Speak.<|im_end|>
	// <|im_start|>assistant
	// Speak, speak.<|im_end|>
}

// runeTokenizer is a toy tokenizer for the example: one token per byte, BOS 1, EOS 2.
type runeTokenizer struct{}

func (runeTokenizer) Encode(text string, addSpecial bool) ([]int32, error) {
	ids := make([]int32, len(text))
	for i := range text {
		ids[i] = int32(text[i])
	}
	return ids, nil
}
func (runeTokenizer) BOS() int32 { return 1 }
func (runeTokenizer) EOS() int32 { return 2 }

// Packing documents into fixed-length sequences with BOS/EOS between documents.
func ExamplePack() {
	r, err := datasets.Open("testdata/speeches.txt", datasets.Options{TextMode: datasets.TextParagraphs})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	seqs, err := datasets.Pack(context.Background(), r, runeTokenizer{}, datasets.PackOptions{SeqLen: 32, BOS: true, EOS: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(seqs), "sequences of", len(seqs[0]), "tokens; the first starts with BOS:", seqs[0][0] == 1)
	// Output:
	// 4 sequences of 32 tokens; the first starts with BOS: true
}

// A seeded train/validation split; the same seed gives the same split on every machine.
func ExampleSplitValidation() {
	docs := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	train, val, err := datasets.SplitValidation(docs, 0.2, 42)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(train), "train,", len(val), "validation")
	// Output:
	// 8 train, 2 validation
}

// Describing a dataset: format, schema, rows, shards and a sample.
func ExampleInspect() {
	info, err := datasets.Inspect("testdata/hellaswag-mini.jsonl", datasets.Options{}, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Format, info.Rows, "rows, text column", info.TextColumn)
	for _, c := range info.Columns {
		fmt.Printf("  %s: %s\n", c.Name, c.Type)
	}
	// Output:
	// jsonl 2 rows, text column ctx
	//   ind: int
	//   ctx: string
	//   endings: list<string>
	//   label: string
}
