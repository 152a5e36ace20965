#!/usr/bin/env bash
# The arm64 tests under qemu-user (issue 11.5), correctness only: emulated timings mean nothing.
# Builds the runtime's tests for linux/arm64 and runs them emulated twice:
#   1. QEMU_CPU=max, which has the dot-product extension: ./runtime/... with the SDOT kernels;
#   2. QEMU_CPU=cortex-a53, without it: ./runtime/kernels with the plain NEON kernels.
# MCOMPRESS_WANT_SIMD makes TestNEONKernelsSelected fail unless those kernels were selected.
# Installs Debian's qemu-user-static when no qemu-aarch64 is found; if that fails (no apt, no
# network) it says so and exits 0, as .ci/run does for chromium. A failing test fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$qemu" ]; then
	{ apt-get update -qq && apt-get install -y --no-install-recommends qemu-user-static; } >/dev/null 2>&1 || true
	qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
fi
if [ -z "$qemu" ]; then
	echo "arm64: qemu-user not installed (apt-get install qemu-user-static failed): arm64 tests skipped"
	exit 0
fi

# TestPerplexityMatchesLlamaCpp evaluates a whole text against llama.cpp's figures: minutes of
# emulation for Go code that the amd64 run already checks; the kernels it would exercise are
# compared with their pure-Go twins by the kernels' tests and TestGoldenLogits.
skip='^TestPerplexityMatchesLlamaCpp$'
echo "arm64 (qemu, with dotprod): go test ./runtime/..."
QEMU_CPU=max MCOMPRESS_WANT_SIMD=neon-dotprod GOARCH=arm64 CGO_ENABLED=0 \
	go test -short -count=1 -timeout 30m -skip "$skip" -exec "$qemu" ./runtime/...
echo "arm64 (qemu, without dotprod): go test ./runtime/kernels"
QEMU_CPU=cortex-a53 MCOMPRESS_WANT_SIMD=neon GOARCH=arm64 CGO_ENABLED=0 \
	go test -short -count=1 -timeout 30m -exec "$qemu" ./runtime/kernels
echo "arm64: tests passed under qemu (correctness only)"
