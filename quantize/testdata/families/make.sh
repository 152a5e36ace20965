#!/bin/sh
# Makes llama-quantize.sha256: the SHA-256 of llama-quantize's output for tiny Gemma 2, Gemma 3
# and Phi-3 F32 files that TestFamiliesMatchLlamaQuantize rebuilds deterministically.
# Usage: make.sh /path/to/llama.cpp/build/bin   (run from quantize/testdata/families)
set -eu
bin=${1:?llama.cpp build/bin folder}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here/../.." && MCOMPRESS_FAMILY_INPUTS="$tmp" go test -count=1 -run TestFamiliesMatchLlamaQuantize .)
: > "$tmp/sums"
for arch in gemma2 gemma3 phi3; do
	for mix in Q4_K_M Q5_K_M Q3_K_M Q8_0 Q4_0; do
		"$bin/llama-quantize" "$tmp/$arch-F32.gguf" "$tmp/$arch-$mix.gguf" "$mix" 1 >/dev/null 2>&1
		(cd "$tmp" && sha256sum "$arch-$mix.gguf") >> "$tmp/sums"
	done
done
cp "$tmp/sums" "$here/llama-quantize.sha256"
