#!/bin/sh
# Reference data for TestIQMixesMatchLlamaQuantize (issue 16): the SHA-256 of llama-quantize's
# output for every codebook and ternary mix with ./imatrix.gguf, made first by llama-imatrix
# over the fixture's training text when the file is absent. The quantized files (1-2 MB each)
# are not kept.
#
# usage (in this folder): ./make.sh LLAMA_CPP_BUILD_BIN FIXTURE_DIR
#   e.g. ./make.sh /work/llama.cpp/build/bin ../../../../shared/fixtures/shakespeare-llama
set -eu
bin=$1
fix=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -f imatrix.gguf ] || "$bin/llama-imatrix" -m "$fix/gguf/teacher-F32.gguf" -f "$fix/train.txt" \
	-c 256 --chunks 20 -o imatrix.gguf -t 2 >"$tmp/imatrix.log" 2>&1
: >digests.txt
for mix in IQ2_XXS IQ2_XS IQ2_S IQ2_M IQ1_S IQ1_M TQ1_0 TQ2_0 IQ3_XXS IQ3_S IQ3_M IQ3_XS; do
	"$bin/llama-quantize" --imatrix imatrix.gguf "$fix/gguf/teacher-F32.gguf" "$tmp/$mix.gguf" "$mix" 2 \
		>"$tmp/$mix.log" 2>&1
	echo "$(sha256sum <"$tmp/$mix.gguf" | cut -d' ' -f1) $mix" >>digests.txt
done
# llama-quantize refuses the mixes that need an importance matrix without one.
"$bin/llama-quantize" "$fix/gguf/teacher-F32.gguf" "$tmp/x.gguf" IQ2_XS 2 >"$tmp/refuse.log" 2>&1 &&
	{ echo "llama-quantize accepted IQ2_XS without an imatrix" >&2; exit 1; }
grep -q "requires an importance matrix" "$tmp/refuse.log"
