// Package yamltext reads a YAML document, such as the front matter of a Hugging Face model or
// dataset card, into plain Go values whose scalars keep the text they were written as.
//
// Parsing is go.yaml.in/yaml/v3's, so every YAML form is accepted: block and flow collections
// over any number of lines, quoted and block scalars, comments, anchors and aliases, and merge
// keys (<<: *base). Values come back as map[string]any, []any, string and nil: a scalar is its
// text ("true", "1.0", "2024-01-01"; escapes and folding applied), a null (empty, ~, null) is
// nil. Keeping text rather than guessing types means a config_name of 2020 stays "2020" and a
// license of "no" stays "no", whichever YAML version's rules a reader would apply.
package yamltext

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxDepth bounds how deeply collections (and aliases within them) may nest.
const MaxDepth = 100

// maxValues bounds the values an n-byte document may expand to through aliases: a document
// without aliases has fewer values than bytes, so this only stops alias bombs (an anchor used
// ten times in a list that is used ten times, and so on).
func maxValues(n int) int { return 16*n + 1024 }

// Parse parses the first YAML document in src. An empty document is nil. Errors start with
// "yaml: line N:", N counting from the first line of src.
func Parse(src []byte) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("yaml: parser failed: %v", p)
		}
	}()
	var doc yaml.Node
	// A blank line in front gives every error a line number (yaml.v3 leaves it out for
	// errors on the first line); fixLine takes it off again.
	shifted := make([]byte, 0, len(src)+1)
	shifted = append(append(shifted, '\n'), src...)
	if err := yaml.Unmarshal(shifted, &doc); err != nil {
		return nil, fixLine(err)
	}
	shiftLines(&doc)
	w := &walker{budget: maxValues(len(src))}
	return w.value(&doc, 0)
}

// walker converts a node tree, counting the values it produces.
type walker struct{ budget int }

func (w *walker) value(n *yaml.Node, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("yaml: line %d: nested more than %d levels", n.Line, MaxDepth)
	}
	if w.budget--; w.budget < 0 {
		return nil, fmt.Errorf("yaml: line %d: aliases expand to too many values", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return w.value(n.Content[0], depth)
	case yaml.AliasNode:
		return w.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil, nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := w.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		return out, w.mapping(out, n, depth)
	case 0:
		return nil, nil // an empty document
	}
	return nil, fmt.Errorf("yaml: line %d: unexpected node kind %d", n.Line, n.Kind)
}

// mapping adds the entries of mapping node n to out. Merge keys (<<) come first and add only
// the keys that are not there yet, so that an earlier merged mapping wins over a later one;
// the mapping's own keys come after and override merged ones, as YAML's merge key type says.
func (w *walker) mapping(out map[string]any, n *yaml.Node, depth int) error {
	if depth > MaxDepth { // merges of merges, or a mapping merging itself
		return fmt.Errorf("yaml: line %d: nested more than %d levels", n.Line, MaxDepth)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			if err := w.merge(out, n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		k = deref(k)
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("yaml: line %d: a mapping key must be a scalar", k.Line)
		}
		v, err := w.value(n.Content[i+1], depth+1)
		if err != nil {
			return err
		}
		out[k.Value] = v
	}
	return nil
}

// merge adds to out the keys of the mapping (or the list of mappings) v that out lacks.
func (w *walker) merge(out map[string]any, v *yaml.Node, depth int) error {
	sources := []*yaml.Node{deref(v)}
	if sources[0].Kind == yaml.SequenceNode {
		sources = sources[0].Content
	}
	for _, src := range sources {
		src = deref(src)
		if src.Kind != yaml.MappingNode {
			return fmt.Errorf("yaml: line %d: a merge key (<<) takes a mapping or a list of mappings", src.Line)
		}
		m := map[string]any{}
		if err := w.mapping(m, src, depth+1); err != nil {
			return err
		}
		for k, x := range m {
			if _, ok := out[k]; !ok {
				out[k] = x
			}
		}
	}
	return nil
}

// deref returns the node an alias stands for (the parser rejects unknown anchors, and an
// anchor cannot name an alias), or n itself.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// parserProblems are the messages of yaml.v3's parser (as opposed to its scanner). For these,
// yaml.v3 reports the 0-based line where the enclosing collection starts (its context mark)
// instead of a 1-based line; for scanner errors it reports the 1-based line of the problem.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// fixLine rewrites the "yaml: line N:" of a yaml.v3 error, made on src with a blank line in
// front, into the 1-based line of src: the line of the problem for scanner errors, the line
// where the collection being parsed starts for parser errors.
func fixLine(err error) error {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "yaml: line ")
	if !ok {
		return err
	}
	num, problem, ok := strings.Cut(rest, ": ")
	n, convErr := strconv.Atoi(num)
	if !ok || convErr != nil {
		return err
	}
	isParser := false
	for _, p := range parserProblems {
		if problem == p {
			isParser = true
		}
	}
	if !isParser {
		n-- // the blank line in front
	}
	return errors.New("yaml: line " + strconv.Itoa(max(n, 1)) + ": " + problem)
}

// shiftLines takes the blank line put in front of the document off the nodes' line numbers.
// (Content is a tree: aliases point at their anchor through Alias, not Content.)
func shiftLines(n *yaml.Node) {
	n.Line--
	for _, c := range n.Content {
		shiftLines(c)
	}
}
