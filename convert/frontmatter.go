package convert

import (
	"strings"

	"github.com/mcompress/mcompress/internal/yamltext"
)

// parseFrontMatter reads the YAML front matter of a model card as llama.cpp's
// Metadata.load_model_card does: when the first line is "---", the lines after it up to the
// next "---" line (or the end) are YAML, parsed as a whole (internal/yamltext, so anchors,
// merge keys, block scalars and flow lists over several lines all read). The card comes back
// as its top-level keys with the values llama.cpp's reading uses: scalars as their text, lists
// as their scalar items (other items left out), and nil for nulls and nested mappings. It
// returns nil when there is no front matter, an empty card when the YAML is not a mapping
// (llama.cpp logs that and goes on), and an error naming the card's line when the YAML does
// not parse (llama.cpp stops there too).
func parseFrontMatter(text string) (map[string]any, error) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if lines[0] != "---" {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString("\n") // the opening "---", so that YAML line numbers are the card's
	for _, l := range lines[1:] {
		if l == "---" {
			break
		}
		b.WriteString(l)
		b.WriteString("\n")
	}
	doc, err := yamltext.Parse([]byte(b.String()))
	if err != nil {
		return nil, err
	}
	card := map[string]any{}
	m, _ := doc.(map[string]any)
	for k, v := range m {
		switch x := v.(type) {
		case string:
			card[k] = x
		case []any:
			var items []any
			for _, e := range x {
				if s, ok := e.(string); ok {
					items = append(items, s)
				}
			}
			card[k] = items
		default:
			card[k] = nil
		}
	}
	return card, nil
}
