package pipeline

// valueType is what a recipe field holds and how it becomes command-line arguments.
type valueType int

const (
	tString  valueType = iota // a scalar passed as written: --flag VALUE
	tInt                      // an integer
	tFloat                    // a number
	tBool                     // true gives --flag, false --flag=false
	tStrings                  // a list (or one scalar): --flag V1 --flag V2 ...
	tModel                    // a reference to a model: "base" or a step that makes one
	tModels                   // a list of model references
	tData                     // a reference to a dataset of the recipe's data section
	tImatrix                  // a reference to an imatrix step
	tPath                     // a file or folder, relative to the recipe: an input, hashed
	tPaths                    // a list of those
)

// field is one recipe field of a step kind: the flag it becomes and the type of its value.
type field struct {
	flag string
	typ  valueType
}

// output is what a step kind makes and how its command is told where to put it.
type output int

const (
	outModel   output = iota // a GGUF file NAME.gguf, given with -o
	outImatrix               // imatrix.gguf, given with -o
	outDistill               // a distill run folder (model.gguf inside), given with -o
	outReport                // an eval report folder, given with --report
)

// kindSpec describes a step kind: the mcompress command it runs, how its main input ("from")
// is passed (a flag, or "" for the positional argument), what it makes, and its other fields,
// each named as the command's long flag. This table is the one place that knows the commands'
// flags; docs/PIPELINE.md lists the same.
type kindSpec struct {
	command  string
	fromFlag string // "" for a positional argument; unused by eval
	out      output
	fields   map[string]field
}

// gateFields are the eval fields that are quality gates (docs/PIPELINE.md, "Gates").
var gateFields = map[string]field{
	"max-ppl-increase": {"--max-ppl-increase", tString},
	"max-kld":          {"--max-kld", tFloat},
	"min-accuracy":     {"--min-accuracy", tString},
	"max-size":         {"--max-size", tString},
}

// kinds maps each step kind to its description.
var kinds = map[string]kindSpec{
	"convert": {command: "convert", out: outModel, fields: map[string]field{
		"outtype":       {"--outtype", tString},
		"model-name":    {"--name", tString},
		"tokenizer-pre": {"--tokenizer-pre", tString},
	}},
	"quantize": {command: "quantize", out: outModel, fields: map[string]field{
		"type":                 {"--type", tString},
		"bits":                 {"--bits", tInt},
		"method":               {"--method", tString},
		"pure":                 {"--pure", tBool},
		"output-tensor-type":   {"--output-tensor-type", tString},
		"token-embedding-type": {"--token-embedding-type", tString},
		"leave-output-tensor":  {"--leave-output-tensor", tBool},
		"tensor-type":          {"--tensor-type", tStrings},
		"allow-requantize":     {"--allow-requantize", tBool},
		"imatrix":              {"--imatrix", tImatrix},
		"calib":                {"--calib", tData},
	}},
	"imatrix": {command: "imatrix", fromFlag: "--model", out: outImatrix, fields: map[string]field{
		"data":           {"--file", tData},
		"ctx-size":       {"--ctx-size", tInt},
		"chunks":         {"--chunks", tInt},
		"batch-size":     {"--batch-size", tInt},
		"process-output": {"--process-output", tBool},
	}},
	"prune": {command: "prune", out: outModel, fields: map[string]field{
		"method":            {"--method", tString},
		"sparsity":          {"--sparsity", tFloat},
		"pattern":           {"--pattern", tString},
		"sparsity-schedule": {"--sparsity-schedule", tString},
		"structured":        {"--structured", tString},
		"drop-layers":       {"--drop-layers", tString},
		"calib":             {"--calib", tData},
		"calib-samples":     {"--calib-samples", tInt},
		"calib-len":         {"--calib-len", tInt},
	}},
	"distill": {command: "distill", fromFlag: "--teacher", out: outDistill, fields: map[string]field{
		"student":        {"--student", tModel},
		"data":           {"--data", tData},
		"valid":          {"--valid", tData},
		"student-config": {"--student-config", tPath},
		"init":           {"--init", tString},
		"layers":         {"--layers", tInt},
		"hidden":         {"--hidden", tInt},
		"heads":          {"--heads", tInt},
		"kv-heads":       {"--kv-heads", tInt},
		"head-dim":       {"--head-dim", tInt},
		"ffn":            {"--ffn", tInt},
		"tied":           {"--tied", tBool},
		"loss":           {"--loss", tString},
		"alpha":          {"--alpha", tFloat},
		"temperature":    {"--temperature", tFloat},
		"seq-len":        {"--seq-len", tInt},
		"batch":          {"--batch", tInt},
		"accum":          {"--accum", tInt},
		"steps":          {"--steps", tInt},
		"tokens":         {"--tokens", tString},
		"lr":             {"--lr", tFloat},
		"min-lr":         {"--min-lr", tFloat},
		"warmup":         {"--warmup", tInt},
		"schedule":       {"--schedule", tString},
		"weight-decay":   {"--weight-decay", tFloat},
		"seed":           {"--seed", tInt},
		"outtype":        {"--outtype", tString},
		"model-name":     {"--name", tString},
	}},
	"eval": {command: "eval", out: outReport, fields: map[string]field{
		"base":           {"--base", tModel},
		"models":         {"--model", tModels},
		"data":           {"--data", tData},
		"task":           {"--task", tPaths},
		"ctx-size":       {"--ctx-size", tInt},
		"stride":         {"--stride", tInt},
		"chunks":         {"--chunks", tInt},
		"batch-size":     {"--batch-size", tInt},
		"limit":          {"--limit", tInt},
		"no-latency":     {"--no-latency", tBool},
		"latency-prompt": {"--latency-prompt", tInt},
		"latency-gen":    {"--latency-gen", tInt},
	}},
}

func init() {
	for name, f := range gateFields {
		kinds["eval"].fields[name] = f
	}
}

// makesModel reports whether steps of kind k make a model other steps can take as input.
func makesModel(k string) bool {
	o := kinds[k].out
	return o == outModel || o == outDistill
}
