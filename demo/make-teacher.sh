#!/usr/bin/env bash
# Re-creates demo/teacher, the small model `make demo` starts from, with mcompress itself:
# train a 1M-parameter Llama from scratch on Tiny Shakespeare (the shared fixture's 90% train
# split, with its 2048-token SentencePiece tokenizer), then store it as a BF16 Hugging Face folder.
# Needs ../shared beside the repository. Deterministic: same bytes on every run with the same
# mcompress.
set -euo pipefail
cd "$(dirname "$0")/.."
MC=${MC:-bin/mcompress}
FIX=../shared/fixtures/shakespeare-llama
[ -d "$FIX" ] || { echo "make-teacher: $FIX not found (the reference fixtures beside the repository)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$MC" train --tokenizer "$FIX/hf" --config demo/teacher-config.json \
    --data "$FIX/train.txt" --valid "$FIX/valid.txt" \
    --tokens 2.5M --lr 3e-3 --warmup 100 --valid-every 400 --seed 7 \
    --name "mcompress demo teacher" -o "$WORK/run"
"$MC" convert "$WORK/run/hf" --outtype bf16 -o "$WORK/teacher-bf16.gguf"
rm -rf demo/teacher
"$MC" convert "$WORK/teacher-bf16.gguf" --to safetensors demo/teacher
echo "wrote demo/teacher"
