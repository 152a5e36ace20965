package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// BaseRef is the reference to the recipe's base model in from:, student: and eval's base:.
const BaseRef = "base"

// EvalStep is the name of the evaluation step the recipe's eval section describes.
const EvalStep = "eval"

// Recipe is a parsed and checked recipe. Paths in it are absolute, resolved against the
// recipe's folder.
type Recipe struct {
	File   string            // the recipe file as given
	Base   string            // the base model: a Hugging Face folder or a GGUF file
	Data   map[string]string // named datasets
	Run    string            // the run folder the recipe names ("" when it names none)
	Steps  []*Step           // in an order where every step comes after its inputs; eval last
	byName map[string]*Step
}

// Step is one node of the recipe's graph.
type Step struct {
	Name     string
	Kind     string
	Line     int               // where the step starts in the recipe
	From     string            // the main input: "base" or a step name (unused by eval)
	Optional bool              // skip it (and what depends on it) when the binary lacks its command
	values   map[string]*value // the kind's fields that the recipe set
	Args     []string          // extra arguments passed to the command as written
	fromLine int
}

// value is a recipe field's value: its items as written (one for a scalar) and its line.
type value struct {
	typ   valueType
	items []string
	line  int
}

// stepName is the form of step and dataset names: they become folder and file names.
var stepName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// Load reads and parses the recipe file at path.
func Load(path string) (*Recipe, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, bad(fmt.Errorf("reading recipe: %w", err))
	}
	return Parse(path, src)
}

// Parse parses a recipe (YAML or JSON) read from file, whose folder relative paths are resolved
// against, and checks it: every field known, every reference resolving to a step of the right
// kind, no cycles. Errors name the file, the line and the field.
func Parse(file string, src []byte) (*Recipe, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, bad(fmt.Errorf("%s: %v", file, err))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, recipeError(file, 0, "", "empty recipe")
	}
	p := &parser{file: file, dir: filepath.Dir(file)}
	r := &Recipe{File: file, Data: map[string]string{}, byName: map[string]*Step{}}
	root := doc.Content[0]
	if err := p.check(root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, recipeError(file, root.Line, "", "a recipe is a mapping (base:, data:, steps:, eval:)")
	}
	var stepsNode, evalNode *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, recipeError(file, k.Line, k.Value, "given twice")
		}
		seen[k.Value] = true
		switch k.Value {
		case "base":
			s, err := p.scalar(k.Value, v)
			if err != nil {
				return nil, err
			}
			r.Base = p.path(s)
		case "run":
			s, err := p.scalar(k.Value, v)
			if err != nil {
				return nil, err
			}
			r.Run = p.path(s)
		case "data":
			if v.Kind != yaml.MappingNode {
				return nil, recipeError(file, v.Line, "data", "want a mapping of dataset names to files")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				dk, dv := v.Content[j], v.Content[j+1]
				if !stepName.MatchString(dk.Value) {
					return nil, recipeError(file, dk.Line, "data", "dataset name %q: use letters, digits, '.', '_', '+' and '-'", dk.Value)
				}
				if _, dup := r.Data[dk.Value]; dup {
					return nil, recipeError(file, dk.Line, "data."+dk.Value, "given twice")
				}
				s, err := p.scalar("data."+dk.Value, dv)
				if err != nil {
					return nil, err
				}
				r.Data[dk.Value] = p.path(s)
			}
		case "steps":
			stepsNode = v
		case "eval":
			evalNode = v
		default:
			return nil, recipeError(file, k.Line, k.Value, "unknown field (want base, run, data, steps or eval)")
		}
	}
	if r.Base == "" {
		return nil, recipeError(file, root.Line, "base", "missing: name the base model (a Hugging Face folder or a GGUF file)")
	}
	if stepsNode != nil {
		if stepsNode.Kind != yaml.SequenceNode {
			return nil, recipeError(file, stepsNode.Line, "steps", "want a list of steps")
		}
		for _, n := range stepsNode.Content {
			s, err := p.step(n, "")
			if err != nil {
				return nil, err
			}
			if s.Name == BaseRef || s.Name == EvalStep {
				return nil, recipeError(file, s.Line, "name", "%q is reserved", s.Name)
			}
			if _, dup := r.byName[s.Name]; dup {
				return nil, recipeError(file, s.Line, "name", "step %q is named twice", s.Name)
			}
			r.byName[s.Name] = s
			r.Steps = append(r.Steps, s)
		}
	}
	if evalNode != nil {
		s, err := p.step(evalNode, "eval")
		if err != nil {
			return nil, err
		}
		r.byName[s.Name] = s
		r.Steps = append(r.Steps, s)
	}
	if len(r.Steps) == 0 {
		return nil, recipeError(file, root.Line, "steps", "the recipe has no steps and no eval")
	}
	if err := r.link(p); err != nil {
		return nil, err
	}
	return r, nil
}

// parser holds what the recipe's parts need to report errors and resolve paths.
type parser struct {
	file, dir string
}

// path resolves a recipe path against the recipe's folder.
func (p *parser) path(s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(p.dir, s)
}

// check refuses anchors, aliases and merge keys anywhere in the document: a recipe is small,
// and refusing them bounds the work and keeps every line number meaningful.
func (p *parser) check(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return recipeError(p.file, n.Line, "", "anchors and aliases are not supported in recipes")
	}
	for _, c := range n.Content {
		if err := p.check(c); err != nil {
			return err
		}
	}
	return nil
}

// scalar returns the text of a scalar node, or an error naming the field.
func (p *parser) scalar(field string, n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", recipeError(p.file, n.Line, field, "want a single value")
	}
	if n.Tag == "!!null" {
		return "", recipeError(p.file, n.Line, field, "empty")
	}
	return n.Value, nil
}

// step parses one step mapping; kind is preset for the eval section.
func (p *parser) step(n *yaml.Node, kind string) (*Step, error) {
	where := "steps"
	if kind != "" {
		where = "eval"
	}
	if n.Kind != yaml.MappingNode {
		return nil, recipeError(p.file, n.Line, where, "want a mapping (name:, kind:, from:, and the kind's fields)")
	}
	s := &Step{Line: n.Line, Kind: kind, values: map[string]*value{}}
	if kind != "" {
		s.Name = EvalStep
	}
	// The kind first, so that the other fields can be checked against it.
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "kind" {
			if kind != "" {
				return nil, recipeError(p.file, k.Line, "kind", "the eval section is always kind eval")
			}
			var err error
			if s.Kind, err = p.scalar("kind", v); err != nil {
				return nil, err
			}
			if _, ok := kinds[s.Kind]; !ok || s.Kind == "eval" {
				return nil, recipeError(p.file, v.Line, "kind", "unknown step kind %q (want %s)", s.Kind, kindList())
			}
		}
	}
	if s.Kind == "" {
		return nil, recipeError(p.file, n.Line, "kind", "missing (want %s)", kindList())
	}
	spec := kinds[s.Kind]
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return nil, recipeError(p.file, k.Line, k.Value, "given twice")
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "kind":
		case "name":
			if kind != "" {
				return nil, recipeError(p.file, k.Line, "name", "the eval section is always named eval")
			}
			if s.Name, err = p.scalar("name", v); err != nil {
				return nil, err
			}
			if !stepName.MatchString(s.Name) {
				return nil, recipeError(p.file, v.Line, "name", "step name %q: use letters, digits, '.', '_', '+' and '-'", s.Name)
			}
		case "from":
			if kind != "" {
				return nil, recipeError(p.file, k.Line, "from", "eval takes base: and models:")
			}
			if s.From, err = p.scalar("from", v); err != nil {
				return nil, err
			}
			s.fromLine = v.Line
		case "optional":
			t, err := p.scalar("optional", v)
			if err != nil {
				return nil, err
			}
			if s.Optional, err = strconv.ParseBool(t); err != nil {
				return nil, recipeError(p.file, v.Line, "optional", "want true or false, not %q", t)
			}
		case "args":
			if s.Args, err = p.list("args", v); err != nil {
				return nil, err
			}
		default:
			f, ok := spec.fields[k.Value]
			if !ok {
				return nil, recipeError(p.file, k.Line, k.Value, "unknown field of a %s step (want %s)", s.Kind, fieldList(s.Kind))
			}
			val, err := p.value(k.Value, f.typ, v)
			if err != nil {
				return nil, err
			}
			s.values[k.Value] = val
		}
	}
	if s.Name == "" {
		return nil, recipeError(p.file, n.Line, "name", "missing")
	}
	if kind == "" && s.From == "" {
		return nil, recipeError(p.file, n.Line, "from", "step %q: missing (name its input: %q or a step)", s.Name, BaseRef)
	}
	return s, nil
}

// list reads a sequence of scalars, or one scalar as a list of one.
func (p *parser) list(field string, n *yaml.Node) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		s, err := p.scalar(field, n)
		return []string{s}, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, recipeError(p.file, n.Line, field, "want a value or a list of values")
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, err := p.scalar(field, c)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// value reads a field's value and checks it against the field's type.
func (p *parser) value(name string, typ valueType, n *yaml.Node) (*value, error) {
	v := &value{typ: typ, line: n.Line}
	switch typ {
	case tStrings, tModels, tPaths:
		items, err := p.list(name, n)
		if err != nil {
			return nil, err
		}
		v.items = items
	default:
		s, err := p.scalar(name, n)
		if err != nil {
			return nil, err
		}
		v.items = []string{s}
	}
	for i, s := range v.items {
		switch typ {
		case tInt:
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				return nil, recipeError(p.file, n.Line, name, "want an integer, not %q", s)
			}
		case tFloat:
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return nil, recipeError(p.file, n.Line, name, "want a number, not %q", s)
			}
		case tBool:
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, recipeError(p.file, n.Line, name, "want true or false, not %q", s)
			}
			v.items[i] = strconv.FormatBool(b)
		case tPath, tPaths:
			v.items[i] = p.path(s)
		}
	}
	return v, nil
}

// link resolves every reference, checks that each points to a step of the right kind, orders
// the steps so that each comes after its inputs (keeping the recipe's order where it can), and
// refuses cycles.
func (r *Recipe) link(p *parser) error {
	for _, s := range r.Steps {
		for _, ref := range s.refs() {
			if err := r.checkRef(p, s, ref); err != nil {
				return err
			}
		}
	}
	// Depth-first order; a step met again while on the stack closes a cycle.
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var order []*Step
	var stack []string
	var visit func(s *Step) error
	visit = func(s *Step) error {
		switch state[s.Name] {
		case done:
			return nil
		case active:
			i := len(stack) - 1
			for stack[i] != s.Name {
				i--
			}
			cycle := append(append([]string{}, stack[i:]...), s.Name)
			return recipeError(p.file, s.Line, "from", "steps form a cycle: %s", strings.Join(cycle, " -> "))
		}
		state[s.Name] = active
		stack = append(stack, s.Name)
		for _, ref := range s.refs() {
			if d := r.byName[ref.name]; d != nil {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[s.Name] = done
		order = append(order, s)
		return nil
	}
	for _, s := range r.Steps {
		if err := visit(s); err != nil {
			return err
		}
	}
	r.Steps = order
	return nil
}

// ref is one reference a step makes: to the base, a step or a dataset.
type ref struct {
	field string
	name  string
	typ   valueType // tModel, tData or tImatrix
	line  int
}

// refs lists the references of s, in a fixed order: from, then its fields by name.
func (s *Step) refs() []ref {
	var out []ref
	if s.From != "" {
		out = append(out, ref{"from", s.From, tModel, s.fromLine})
	}
	for _, name := range s.fieldNames() {
		v := s.values[name]
		switch v.typ {
		case tModel, tModels:
			for _, it := range v.items {
				out = append(out, ref{name, it, tModel, v.line})
			}
		case tData, tImatrix:
			out = append(out, ref{name, v.items[0], v.typ, v.line})
		}
	}
	return out
}

// fieldNames lists the fields s sets, sorted.
func (s *Step) fieldNames() []string {
	names := make([]string, 0, len(s.values))
	for k := range s.values {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// checkRef checks that a reference of s names something of the right kind.
func (r *Recipe) checkRef(p *parser, s *Step, x ref) error {
	switch x.typ {
	case tData:
		if _, ok := r.Data[x.name]; !ok {
			return recipeError(p.file, x.line, x.field, "step %q: no dataset %q in the data section", s.Name, x.name)
		}
		return nil
	case tModel:
		if x.name == BaseRef {
			return nil
		}
	}
	d, ok := r.byName[x.name]
	if !ok || d.Kind == "eval" {
		return recipeError(p.file, x.line, x.field, "step %q: no step %q", s.Name, x.name)
	}
	if d == s {
		return recipeError(p.file, x.line, x.field, "step %q refers to itself", s.Name)
	}
	switch {
	case x.typ == tModel && !makesModel(d.Kind):
		return recipeError(p.file, x.line, x.field, "step %q: %q is a %s step, which makes no model", s.Name, x.name, d.Kind)
	case x.typ == tImatrix && d.Kind != "imatrix":
		return recipeError(p.file, x.line, x.field, "step %q: %q is a %s step, not an imatrix step", s.Name, x.name, d.Kind)
	}
	if s.Kind == "convert" && x.field == "from" && x.name != BaseRef {
		return recipeError(p.file, x.line, x.field, "step %q: convert reads the base's Hugging Face folder (from: base), not a GGUF step", s.Name)
	}
	return nil
}

// kindList names the step kinds a recipe may use.
func kindList() string {
	var ks []string
	for k := range kinds {
		if k != "eval" {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// fieldList names the fields a step of kind k may set.
func fieldList(k string) string {
	fs := []string{"name", "kind", "from", "optional", "args"}
	if k == "eval" {
		fs = []string{"optional", "args"}
	}
	var own []string
	for f := range kinds[k].fields {
		own = append(own, f)
	}
	sort.Strings(own)
	return strings.Join(append(fs, own...), ", ")
}
