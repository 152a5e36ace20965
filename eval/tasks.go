package eval

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcompress/mcompress/datasets"
)

// TaskLayout names the record layout of a multiple-choice dataset.
type TaskLayout string

// The layouts LoadTask understands, with the prompts lm-evaluation-harness builds for them.
const (
	// LayoutAuto picks the layout from the first record's fields.
	LayoutAuto TaskLayout = ""
	// LayoutHellaSwag: ctx (or ctx_a and ctx_b), endings, label, optional activity_label.
	// Context preprocess(activity_label + ": " + ctx_a + " " + capitalize(ctx_b)); choices
	// preprocess(ending).
	LayoutHellaSwag TaskLayout = "hellaswag"
	// LayoutARC: question, choices{text, label}, answerKey. Context "Question: " + question +
	// "\nAnswer:"; the gold choice is the index of answerKey in choices.label.
	LayoutARC TaskLayout = "arc"
	// LayoutPIQA: goal, sol1, sol2, label. Context "Question: " + goal + "\nAnswer:".
	LayoutPIQA TaskLayout = "piqa"
	// LayoutGeneric: context, choices (list of strings), label (gold index); "query"/"gold"
	// and "answer" are accepted as synonyms.
	LayoutGeneric TaskLayout = "generic"
)

// TargetDelimiter separates the context from each choice, as lm-evaluation-harness's default
// target_delimiter.
const TargetDelimiter = " "

// Example is one multiple-choice question: the model is asked for the log-likelihood of
// Context + TargetDelimiter + Choices[i] for every i.
type Example struct {
	Context string
	Choices []string
	// Gold is the index of the correct choice.
	Gold int
	// Source and Row locate the record (Row is 0-based within Source).
	Source string
	Row    int64
}

// Task is a loaded multiple-choice task.
type Task struct {
	// Name is the task's name (the file name without extension unless given).
	Name string
	// Path is the data file or folder.
	Path string
	// Layout is the record layout used.
	Layout   TaskLayout
	Examples []Example
}

// TaskOptions control LoadTask.
type TaskOptions struct {
	// Layout forces a layout; LayoutAuto (zero) detects it from the first record.
	Layout TaskLayout
	// Data selects the format, split (Hugging Face folders) and so on; Columns and TextColumn
	// are set by LoadTask.
	Data datasets.Options
	// Limit keeps only the first Limit examples; 0 means all.
	Limit int
	// Name overrides the task name.
	Name string
}

// ParseTaskLayout converts a user-supplied layout name.
func ParseTaskLayout(s string) (TaskLayout, error) {
	switch l := TaskLayout(strings.ToLower(strings.TrimSpace(s))); l {
	case LayoutAuto, "auto":
		return LayoutAuto, nil
	case LayoutHellaSwag, LayoutARC, LayoutPIQA, LayoutGeneric:
		return l, nil
	case "arc_easy", "arc_challenge", "arc-easy", "arc-challenge":
		return LayoutARC, nil
	}
	return "", bad(fmt.Errorf("eval: unknown task layout %q (want hellaswag, arc, piqa, generic or auto)", s))
}

// LoadTask reads a multiple-choice dataset (JSON Lines, JSON, Parquet, Arrow or a Hugging Face
// folder, through package datasets) in one of the public layouts. Errors name the file and the
// line (JSON Lines) or row and the field that is missing or malformed.
//
// Every error it returns wraps ErrBadInput.
func LoadTask(path string, o TaskOptions) (*Task, error) {
	t, err := loadTask(path, o)
	if err != nil {
		return nil, bad(err)
	}
	return t, nil
}

// loadTask is LoadTask without the marking of its errors.
func loadTask(path string, o TaskOptions) (*Task, error) {
	dopts := o.Data
	dopts.TextColumn = ""
	r, err := datasets.Open(path, dopts)
	if err != nil {
		return nil, fmt.Errorf("eval: task %s: %w", path, err)
	}
	defer r.Close()
	name := o.Name
	if name == "" {
		base := filepath.Base(filepath.Clean(path))
		name = strings.TrimSuffix(base, filepath.Ext(base))
		if ext := filepath.Ext(name); ext == ".jsonl" || ext == ".json" || ext == ".parquet" {
			name = strings.TrimSuffix(name, ext)
		}
	}
	t := &Task{Name: name, Path: path, Layout: o.Layout}
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("eval: task %s: %w", path, err)
		}
		if t.Layout == LayoutAuto {
			if t.Layout, err = detectLayout(rec); err != nil {
				return nil, err
			}
		}
		ex, err := parseExample(rec, t.Layout)
		if err != nil {
			return nil, fmt.Errorf("eval: task %s: %s layout: %w", path, t.Layout, err)
		}
		t.Examples = append(t.Examples, ex)
		if o.Limit > 0 && len(t.Examples) >= o.Limit {
			break
		}
	}
	if len(t.Examples) == 0 {
		return nil, fmt.Errorf("eval: task %s: no examples: %w", path, datasets.ErrEmpty)
	}
	return t, nil
}

// where names a record's position for error messages.
func where(rec *datasets.Record) string {
	if rec.Line > 0 {
		return fmt.Sprintf("%s:%d", rec.Source, rec.Line)
	}
	return fmt.Sprintf("%s: row %d", rec.Source, rec.Row)
}

// detectLayout recognises a layout from the fields of a record.
func detectLayout(rec *datasets.Record) (TaskLayout, error) {
	has := func(k string) bool { _, ok := rec.Fields[k]; return ok }
	switch {
	case has("endings") && (has("ctx") || has("ctx_a")):
		return LayoutHellaSwag, nil
	case has("question") && has("choices") && has("answerKey"):
		return LayoutARC, nil
	case has("goal") && has("sol1") && has("sol2"):
		return LayoutPIQA, nil
	case (has("context") || has("query")) && has("choices"):
		return LayoutGeneric, nil
	}
	keys := make([]string, 0, len(rec.Fields))
	for k := range rec.Fields {
		keys = append(keys, k)
	}
	return "", fmt.Errorf("eval: %s: cannot tell the task layout from fields %v (want HellaSwag ctx/endings/label, ARC question/choices/answerKey, PIQA goal/sol1/sol2/label, or context/choices/label)", where(rec), sortedStrings(keys))
}

// parseExample builds one example from a record in the given layout.
func parseExample(rec *datasets.Record, layout TaskLayout) (Example, error) {
	ex := Example{Source: rec.Source, Row: rec.Row}
	var err error
	switch layout {
	case LayoutHellaSwag:
		ex, err = hellaswagExample(rec, ex)
	case LayoutARC:
		ex, err = arcExample(rec, ex)
	case LayoutPIQA:
		ex, err = piqaExample(rec, ex)
	case LayoutGeneric:
		ex, err = genericExample(rec, ex)
	default:
		err = fmt.Errorf("unknown layout %q", layout)
	}
	if err != nil {
		return ex, err
	}
	if len(ex.Choices) < 2 {
		return ex, fmt.Errorf("%s: %d choices; a multiple-choice question needs at least 2", where(rec), len(ex.Choices))
	}
	if ex.Gold < 0 || ex.Gold >= len(ex.Choices) {
		return ex, fmt.Errorf("%s: gold answer %d out of range for %d choices", where(rec), ex.Gold, len(ex.Choices))
	}
	return ex, nil
}

func hellaswagExample(rec *datasets.Record, ex Example) (Example, error) {
	var ctx string
	if _, ok := rec.Fields["ctx_a"]; ok {
		a, err := rec.String("ctx_a")
		if err != nil {
			return ex, err
		}
		b, err := rec.String("ctx_b")
		if err != nil {
			return ex, err
		}
		ctx = a + " " + capitalize(b)
	} else {
		c, err := rec.String("ctx")
		if err != nil {
			return ex, err
		}
		ctx = c
	}
	query := ctx
	if _, ok := rec.Fields["activity_label"]; ok {
		al, err := rec.String("activity_label")
		if err != nil {
			return ex, err
		}
		query = al + ": " + ctx
	}
	ex.Context = hellaswagPreprocess(query)
	ends, err := rec.Strings("endings")
	if err != nil {
		return ex, err
	}
	for _, e := range ends {
		ex.Choices = append(ex.Choices, hellaswagPreprocess(e))
	}
	g, err := rec.Int("label")
	if err != nil {
		return ex, err
	}
	ex.Gold = int(g)
	return ex, nil
}

var bracketRE = regexp.MustCompile(`\[.*?\]`)

// hellaswagPreprocess is lm-evaluation-harness's hellaswag preprocess: strip, " [title]" to
// ". ", drop bracketed WikiHow artifacts, and replace double spaces by single ones (once, as
// Python's str.replace does in one pass).
func hellaswagPreprocess(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, " [title]", ". ")
	s = bracketRE.ReplaceAllString(s, "")
	return strings.ReplaceAll(s, "  ", " ")
}

// capitalize is Python's str.capitalize: the first character in title case, the rest lower.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToTitle(r)) + strings.ToLower(s[n:])
}

func arcExample(rec *datasets.Record, ex Example) (Example, error) {
	q, err := rec.String("question")
	if err != nil {
		return ex, err
	}
	ex.Context = "Question: " + q + "\nAnswer:"
	if ex.Choices, err = rec.Strings("choices.text"); err != nil {
		return ex, err
	}
	labels, err := rec.Strings("choices.label")
	if err != nil {
		return ex, err
	}
	key, err := rec.String("answerKey")
	if err != nil {
		return ex, err
	}
	ex.Gold = -1
	for i, l := range labels {
		if l == key {
			ex.Gold = i
			break
		}
	}
	if ex.Gold < 0 {
		return ex, fmt.Errorf("%s: answerKey %q is not among choices.label %q", where(rec), key, labels)
	}
	if len(labels) != len(ex.Choices) {
		return ex, fmt.Errorf("%s: %d choices.text but %d choices.label", where(rec), len(ex.Choices), len(labels))
	}
	return ex, nil
}

func piqaExample(rec *datasets.Record, ex Example) (Example, error) {
	g, err := rec.String("goal")
	if err != nil {
		return ex, err
	}
	ex.Context = "Question: " + g + "\nAnswer:"
	for _, k := range []string{"sol1", "sol2"} {
		s, err := rec.String(k)
		if err != nil {
			return ex, err
		}
		ex.Choices = append(ex.Choices, s)
	}
	l, err := rec.Int("label")
	if err != nil {
		return ex, err
	}
	ex.Gold = int(l)
	return ex, nil
}

func genericExample(rec *datasets.Record, ex Example) (Example, error) {
	first := func(keys ...string) string {
		for _, k := range keys {
			if _, ok := rec.Fields[k]; ok {
				return k
			}
		}
		return keys[0]
	}
	var err error
	if ex.Context, err = rec.String(first("context", "query")); err != nil {
		return ex, err
	}
	if ex.Choices, err = rec.Strings("choices"); err != nil {
		return ex, err
	}
	g, err := rec.Int(first("label", "gold", "answer"))
	if err != nil {
		return ex, err
	}
	ex.Gold = int(g)
	return ex, nil
}
