#!/usr/bin/env bash
# The whole mcompress pipeline, offline, on the bundled demo teacher (see demo/README.md): the
# recipe demo/recipe.yaml (convert -> imatrix -> quantize -> distill -> quantize the student,
# prune -> distill, eval report) run by `mcompress pipeline`, then a few generated lines.
# Usage: demo/run.sh [OUT_DIR]   (make demo runs it with demo-out)
# The run folder is kept: a second run skips the finished steps (docs/PIPELINE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-demo-out}
MC=${MC:-bin/mcompress}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ -x "$MC" ] || { echo "demo: $MC not built (run make build)" >&2; exit 1; }

step "1. The bundled teacher: a Hugging Face folder"
"$MC" inspect demo/teacher | head -n 25

step "2. The recipe: convert, imatrix, quantize, distill, prune then distill, eval (demo/recipe.yaml)"
"$MC" pipeline demo/recipe.yaml -o "$OUT"

step "3. run: generate with the quantized teacher (pure-Go runtime)"
"$MC" run -m "$OUT/steps/teacher-Q4_K_M-imat/teacher-Q4_K_M-imat.gguf" -p "ROMEO:" -n 60 --seed 1

step "Done"
echo "report: $OUT/report/report.html (also report.md and report.json); what ran: $OUT/manifest.json"
