#!/bin/bash
# The importance matrix as a Slurm job array of 4 shards, then a merge job that runs when every
# shard succeeded. Each task reads its shard from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT
# (minus SLURM_ARRAY_TASK_MIN, so --array=1-4 works too). Submit with:
#   bash examples/slurm/imatrix-array.sh /shared/model-f16.gguf /shared/train.txt /shared/out
set -euo pipefail
model=$1 text=$2 out=$3
mkdir -p "$out"
array=$(sbatch --parsable --array=0-3 --cpus-per-task=8 --mem=16G --job-name=mcompress-imatrix \
  --output="$out/imatrix-%a.log" \
  --wrap "mcompress imatrix -q -m '$model' -f '$text' -c 512 -o '$out/part-\$SLURM_ARRAY_TASK_ID.gguf'")
parts=$(for i in 0 1 2 3; do printf "'%s/part-%d.gguf' " "$out" "$i"; done)
sbatch --dependency=afterok:"$array" --job-name=mcompress-imatrix-merge --output="$out/merge.log" \
  --wrap "mcompress merge imatrix $parts -o '$out/imatrix.gguf'"
