#!/usr/bin/env bash
# The whole mcompress pipeline, offline, on the bundled demo teacher (see demo/README.md):
# convert -> imatrix -> quantize -> distill -> quantize the student -> run -> eval report.
# Usage: demo/run.sh [OUT_DIR]   (make demo runs it with demo-out)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-demo-out}
MC=${MC:-bin/mcompress}
DATA=demo/data
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ -x "$MC" ] || { echo "demo: $MC not built (run make build)" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT"

step "1. The bundled teacher: a Hugging Face folder"
"$MC" inspect demo/teacher | head -n 25

step "2. convert: Hugging Face folder -> GGUF (F32 and F16)"
"$MC" convert demo/teacher -o "$OUT/teacher-F32.gguf" --outtype f32
"$MC" convert demo/teacher -o "$OUT/teacher-F16.gguf" --outtype f16

step "3. imatrix: importance of every weight column, from calibration text"
"$MC" imatrix -m "$OUT/teacher-F32.gguf" -f "$DATA/train.txt" -c 256 --chunks 100 -o "$OUT/imatrix.gguf"

step "4. quantize: llama.cpp mixes, with and without the importance matrix"
"$MC" quantize "$OUT/teacher-F32.gguf" --type Q8_0 -o "$OUT/teacher-Q8_0.gguf"
"$MC" quantize "$OUT/teacher-F32.gguf" --bits 4 -o "$OUT/teacher-Q4_K_M.gguf"
"$MC" quantize "$OUT/teacher-F32.gguf" --type Q4_K_M --imatrix "$OUT/imatrix.gguf" -o "$OUT/teacher-Q4_K_M-imat.gguf"
"$MC" quantize "$OUT/teacher-F32.gguf" --type Q3_K_M --imatrix "$OUT/imatrix.gguf" -o "$OUT/teacher-Q3_K_M-imat.gguf"
"$MC" quantize "$OUT/teacher-F32.gguf" --type Q2_K -o "$OUT/teacher-Q2_K.gguf"

step "5. distill: a student with under half of the teacher's parameters"
"$MC" distill --teacher "$OUT/teacher-F32.gguf" --data "$DATA/train.txt" --valid "$DATA/valid.txt" \
    --layers 2 --hidden 128 --heads 4 --kv-heads 2 --ffn 384 --alpha 0.9 --temperature 1 \
    --tokens 250K --lr 3e-3 --warmup 20 --seed 1 --name "mcompress demo student" -o "$OUT/student"
# Rows of 128 do not fill the K-quants' 256-wide blocks (llama.cpp would fall back per tensor),
# so the student takes the 32-wide Q4_0. Its tied embedding doubles as the output, which every
# mix puts in Q6_K and which falls back to Q8_0 at 128 wide: 40% of the weights, 6.1 bits per
# weight. --output-tensor-type q4_0 makes the file what its name says (about 4.5 bits; quantize
# prints what each file holds).
"$MC" quantize "$OUT/student/model.gguf" --type Q4_0 --output-tensor-type q4_0 -o "$OUT/student-Q4_0.gguf"

step "6. run: generate with the quantized teacher (pure-Go runtime)"
"$MC" run -m "$OUT/teacher-Q4_K_M-imat.gguf" -p "ROMEO:" -n 60 --seed 1

step "7. eval: every variant against the F32 teacher on held-out text"
"$MC" eval --base "$OUT/teacher-F32.gguf" \
    --model "$OUT/teacher-F16.gguf" --model "$OUT/teacher-Q8_0.gguf" \
    --model "$OUT/teacher-Q4_K_M.gguf" --model "$OUT/teacher-Q4_K_M-imat.gguf" \
    --model "$OUT/teacher-Q3_K_M-imat.gguf" --model "$OUT/teacher-Q2_K.gguf" \
    --model "$OUT/student/model.gguf" --model "$OUT/student-Q4_0.gguf" \
    --data "$DATA/valid.txt" -c 256 --report "$OUT/report"

step "Done"
echo "report: $OUT/report/report.html (also report.md and report.json)"
