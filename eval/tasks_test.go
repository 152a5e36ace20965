package eval

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadTaskLayouts(t *testing.T) {
	tests := []struct {
		file   string
		layout TaskLayout
		want   []Example
	}{
		{"hellaswag.jsonl", LayoutHellaSwag, []Example{
			{Context: "Removing ice from car: Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles. Then",
				Choices: []string{", the man adds wax to the windshield and cuts it.",
					", a person board a ski lift, while two men supporting the head of the person wearing winter clothes snow as the we girls sled.",
					", the man puts on a christmas coat, knitted with netting.", ", the man continues removing the snow on his car."}, Gold: 3},
			{Context: "Home and Garden: How to keep roses fresh. Cut the stems under water. The flowers should be cut at an angle.",
				Choices: []string{" Place them in a vase Fill it with water.", "Then throw them away.", "Eat the petals.", "Paint the roses blue."}, Gold: 0},
			{Context: "Sonnets: Shall I compare thee to a summer's day? Thou art more lovely",
				Choices: []string{"and more temperate.", "and more carburetted.", "than a spreadsheet.", "or less."}, Gold: 0},
		}},
		{"arc.jsonl", LayoutARC, []Example{
			{Context: "Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?\nAnswer:",
				Choices: []string{"Planetary density will decrease.", "Planetary years will become longer.", "Planetary days will become shorter.", "Planetary gravity will become stronger."}, Gold: 2},
			{Context: "Question: Who loved Juliet?\nAnswer:", Choices: []string{"Romeo", "Hamlet", "Macbeth"}, Gold: 0},
		}},
		{"piqa.jsonl", LayoutPIQA, []Example{
			{Context: "Question: When boiling butter, when it's ready, you can\nAnswer:", Choices: []string{"Pour it onto a plate", "Pour it into a jar"}, Gold: 1},
			{Context: "Question: To light a candle in the dark,\nAnswer:", Choices: []string{"strike a match and hold it to the wick.", "pour water on the wick."}, Gold: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "tasks", tt.file)
			task, err := LoadTask(path, TaskOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if task.Layout != tt.layout {
				t.Errorf("layout %q, want %q", task.Layout, tt.layout)
			}
			if len(task.Examples) != len(tt.want) {
				t.Fatalf("%d examples, want %d", len(task.Examples), len(tt.want))
			}
			for i, w := range tt.want {
				got := task.Examples[i]
				if got.Context != w.Context || !reflect.DeepEqual(got.Choices, w.Choices) || got.Gold != w.Gold {
					t.Errorf("example %d:\n got %q %q %d\nwant %q %q %d", i, got.Context, got.Choices, got.Gold, w.Context, w.Choices, w.Gold)
				}
				if got.Row != int64(i) || got.Source == "" {
					t.Errorf("example %d: source %q row %d", i, got.Source, got.Row)
				}
			}
			limited, err := LoadTask(path, TaskOptions{Limit: 1, Layout: tt.layout})
			if err != nil || len(limited.Examples) != 1 {
				t.Errorf("Limit 1: %v examples, %v", len(limited.Examples), err)
			}
		})
	}
}

func TestHellaswagPreprocess(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  plain text ", "plain text"},
		{"a [title] b", "a. b"},
		{"x [header] y", "x y"},
		{"[step] lead", " lead"},
		{"three   spaces", "three  spaces"},
		{"[a] [b] c", " c"},
	}
	for _, tt := range tests {
		if got := hellaswagPreprocess(tt.in); got != tt.want {
			t.Errorf("hellaswagPreprocess(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for in, want := range map[string]string{"then": "Then", "THE END": "The end", "": "", "élan VITAL": "Élan vital", "ǆx": "ǅx"} {
		if got := capitalize(in); got != want {
			t.Errorf("capitalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadTaskErrors(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.jsonl")
	if err := os.WriteFile(unknown, []byte(`{"foo": 1, "bar": 2}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		layout TaskLayout
		want   []string
	}{
		{filepath.Join("testdata", "tasks", "bad-json.jsonl"), "", []string{"bad-json.jsonl", "2"}},
		{filepath.Join("testdata", "tasks", "missing-field.jsonl"), "", []string{"missing-field.jsonl", "sol2"}},
		{filepath.Join("testdata", "tasks", "bad-answer.jsonl"), "", []string{"bad-answer.jsonl", `answerKey "E"`}},
		{filepath.Join("testdata", "tasks", "piqa.jsonl"), LayoutARC, []string{"piqa.jsonl", "question"}},
		{unknown, "", []string{"unknown.jsonl", "cannot tell the task layout", "bar"}},
		{empty, "", []string{"empty.jsonl"}},
		{filepath.Join(dir, "absent.jsonl"), "", []string{"absent.jsonl"}},
	}
	for _, tt := range tests {
		_, err := LoadTask(tt.path, TaskOptions{Layout: tt.layout})
		if err == nil {
			t.Errorf("%s: no error", tt.path)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tt.path, err, w)
			}
		}
	}
}

func TestParseTaskLayout(t *testing.T) {
	for in, want := range map[string]TaskLayout{"": LayoutAuto, "auto": LayoutAuto, "HellaSwag": LayoutHellaSwag, "arc_easy": LayoutARC, "piqa": LayoutPIQA, "generic": LayoutGeneric} {
		if got, err := ParseTaskLayout(in); err != nil || got != want {
			t.Errorf("ParseTaskLayout(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseTaskLayout("mmlu"); err == nil {
		t.Error("ParseTaskLayout(mmlu): no error")
	}
}

func TestPredict(t *testing.T) {
	tests := []struct {
		lls            []float64
		choices        []string
		pred, predNorm int
	}{
		{[]float64{-10, -12}, []string{"a", "bbbbbbbb"}, 0, 1},
		{[]float64{-5, -5}, []string{"xx", "xx"}, 0, 0}, // ties: first
		{[]float64{-3, -6, -1}, []string{"ab", "abcdef", "a"}, 2, 1},
		{[]float64{-4, -6}, []string{"éé", "abc"}, 0, 0},   // characters, not bytes: -2 vs -2 -> first
		{[]float64{-4, -5.9}, []string{"éé", "abc"}, 0, 1}, // -2 vs -1.97
	}
	for i, tt := range tests {
		p, pn := predict(tt.lls, tt.choices)
		if p != tt.pred || pn != tt.predNorm {
			t.Errorf("case %d: predict = %d, %d; want %d, %d", i, p, pn, tt.pred, tt.predNorm)
		}
	}
}

func TestSampleStderr(t *testing.T) {
	// 0,1,1,1: mean .75, sample sd sqrt(.25) = .5, stderr .5/2 = .25.
	if got := sampleStderr([]float64{0, 1, 1, 1}); got != 0.25 {
		t.Errorf("sampleStderr = %v, want 0.25", got)
	}
	if got := sampleStderr([]float64{1}); got != 0 {
		t.Errorf("sampleStderr of one value = %v, want 0", got)
	}
}
