package pipeline

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const goodRecipe = `base: model
data:
  train: train.txt
steps:
  - {name: q8, kind: quantize, from: f32, type: Q8_0}
  - {name: f32, kind: convert, from: base, outtype: f32}
  - {name: imat, kind: imatrix, from: f32, data: train, chunks: 4}
  - name: q4
    kind: quantize
    from: f32
    imatrix: imat
    pure: true
    tensor-type: [a=q8_0, b=f16]
eval:
  base: f32
  data: train
  max-ppl-increase: 5%
`

func TestParseOrdersAndResolves(t *testing.T) {
	r, err := Parse(filepath.Join("dir", "r.yaml"), []byte(goodRecipe))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range r.Steps {
		order = append(order, s.Name)
	}
	// q8 needs f32, so f32 comes first; the rest keep the recipe's order; eval is last.
	if got, want := strings.Join(order, " "), "f32 q8 imat q4 eval"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	if r.Base != filepath.Join("dir", "model") || r.Data["train"] != filepath.Join("dir", "train.txt") {
		t.Fatalf("paths not resolved against the recipe's folder: %q %q", r.Base, r.Data["train"])
	}
	q4 := r.byName["q4"]
	if got := q4.values["tensor-type"].items; len(got) != 2 || got[1] != "b=f16" {
		t.Fatalf("tensor-type %q", got)
	}
}

// JSON is read by the same parser, with the same fields.
func TestParseJSON(t *testing.T) {
	src := `{"base": "m.gguf", "steps": [{"name": "q", "kind": "quantize", "from": "base", "bits": 4}],
  "eval": {"data": "v", "max-kld": 0.1}, "data": {"v": "v.txt"}}`
	r, err := Parse("r.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Steps) != 2 || r.Steps[0].values["bits"].items[0] != "4" {
		t.Fatalf("%+v", r.Steps)
	}
	bad := `{"base": "m.gguf",
  "steps": [{"name": "q", "kind": "quantize", "from": "base", "bitz": 4}]}`
	_, err = Parse("r.json", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), `r.json:2: field "bitz"`) {
		t.Fatalf("got %v", err)
	}
}

// Every bad recipe is refused with its line and field, as bad input.
func TestParseErrors(t *testing.T) {
	const head = "base: m\ndata: {train: t.txt}\nsteps:\n"
	tests := []struct {
		name, src, want string
	}{
		{"unknown top field", "base: m\nstepz: []\n", `r.yaml:2: field "stepz": unknown field`},
		{"no base", "steps:\n  - {name: a, kind: convert, from: base}\n", `field "base": missing`},
		{"no steps", "base: m\n", `field "steps": the recipe has no steps`},
		{"unknown kind", head + "  - {name: a, kind: squash, from: base}\n", `r.yaml:4: field "kind": unknown step kind "squash"`},
		{"missing kind", head + "  - {name: a, from: base}\n", `r.yaml:4: field "kind": missing`},
		{"missing name", head + "  - {kind: convert, from: base}\n", `r.yaml:4: field "name": missing`},
		{"missing from", head + "  - {name: a, kind: convert}\n", `r.yaml:4: field "from": step "a": missing`},
		{"unknown field", head + "  - name: a\n    kind: quantize\n    from: base\n    typo: 3\n", `r.yaml:7: field "typo": unknown field of a quantize step`},
		{"bad int", head + "  - {name: a, kind: quantize, from: base, bits: four}\n", `r.yaml:4: field "bits": want an integer, not "four"`},
		{"bad bool", head + "  - {name: a, kind: quantize, from: base, pure: maybe}\n", `field "pure": want true or false`},
		{"list for scalar", head + "  - {name: a, kind: quantize, from: base, type: [Q4_0]}\n", `field "type": want a single value`},
		{"missing ref", head + "  - {name: a, kind: quantize, from: nothere}\n", `r.yaml:4: field "from": step "a": no step "nothere"`},
		{"missing data", head + "  - {name: a, kind: imatrix, from: base, data: valid}\n", `field "data": step "a": no dataset "valid"`},
		{"self ref", head + "  - {name: a, kind: quantize, from: a}\n", `step "a" refers to itself`},
		{"duplicate", head + "  - {name: a, kind: quantize, from: base}\n  - {name: a, kind: quantize, from: base}\n", `r.yaml:5: field "name": step "a" is named twice`},
		{"reserved", head + "  - {name: eval, kind: quantize, from: base}\n", `"eval" is reserved`},
		{"bad name", head + "  - {name: ../x, kind: quantize, from: base}\n", `field "name": step name "../x"`},
		{"imatrix not imatrix", head + "  - {name: a, kind: quantize, from: base}\n  - {name: b, kind: quantize, from: base, imatrix: a}\n", `field "imatrix": step "b": "a" is a quantize step, not an imatrix step`},
		{"model from imatrix", head + "  - {name: i, kind: imatrix, from: base, data: train}\n  - {name: b, kind: quantize, from: i}\n", `"i" is a imatrix step, which makes no model`},
		{"convert from step", head + "  - {name: a, kind: convert, from: base}\n  - {name: b, kind: convert, from: a}\n", `convert reads the base's Hugging Face folder`},
		{"cycle", head + "  - {name: a, kind: quantize, from: c}\n  - {name: b, kind: quantize, from: a}\n  - {name: c, kind: quantize, from: b}\n", `steps form a cycle: a -> c -> b -> a`},
		{"eval unknown field", head + "  - {name: a, kind: quantize, from: base}\neval: {max-ppl: 5%}\n", `field "max-ppl": unknown field of a eval step`},
		{"eval bad model", head + "  - {name: a, kind: quantize, from: base}\neval: {models: [a, z]}\n", `field "models": step "eval": no step "z"`},
		{"alias", "base: &b m\nsteps:\n  - {name: a, kind: quantize, from: base}\n", `r.yaml:1: anchors and aliases`},
		{"yaml syntax", "base: m\nsteps: [\n", `r.yaml`},
		{"twice", "base: m\nbase: n\n", `r.yaml:2: field "base": given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error %q is not bad input", err)
			}
		})
	}
}
