// Package pipeline runs a recipe: a declarative graph of mcompress stages (convert, prune,
// distill, quantize, imatrix) over a base model and named datasets, ending in an evaluation of
// every variant against the base with quality gates.
//
// A recipe is YAML (or JSON, which the same parser reads) with the fields of docs/PIPELINE.md;
// a step names its inputs with explicit references (from: a step name or "base"; data: a name
// from the recipe's data section), so the steps form a graph that Parse checks for missing
// references, cycles and unknown kinds, naming the line and the field of each problem.
//
// Run executes the steps in order, each as a subcommand of the mcompress binary (a separate
// process, so a crash of one stage cannot corrupt the run), writing into a run folder:
// RUN/steps/NAME/ for each step and RUN/report/ for the evaluation, with RUN/manifest.json
// recording for every step its command, the content hashes of its inputs and outputs, the tool
// version and the times. A step's outputs are made in RUN/tmp/NAME and renamed into place only
// when it succeeded, and the manifest is rewritten atomically after each step, so a rerun after
// a crash, a SIGKILL or Ctrl-C skips exactly the steps whose inputs, flags and tool version are
// unchanged and whose outputs are still the recorded bytes, and redoes the rest.
package pipeline
