# mcompress: build, test, benchmark and lint.
GO ?= go
BIN ?= bin/mcompress
PKGS ?= ./...

# bench-check fails when a SIMD kernel is below BENCH_FLOOR of a plain memory read (a quarter of
# it for the compute-bound types); see docs/PERFORMANCE.md.
BENCH_FLOOR ?= 0.2

.PHONY: all build test test-full bench bench-check lint fmt demo demo-teacher clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/mcompress

# test runs the unit tests, the fuzz seed corpora and the fixture tests (when ../shared exists)
# in short mode, which skips only the heavy checks that belong in benchmarks. It shows what
# go test shows, then the skip reasons and "N passed, N failed, N skipped"
# (internal/cmd/testsummary); it fails when a test or a build fails.
test: lint
	@bash -o pipefail -c '$(GO) test -short -count=1 -json $(PKGS) | $(GO) run ./internal/cmd/testsummary'

# test-full also runs the heavy checks.
test-full:
	$(GO) test -count=1 -timeout 60m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# bench-check is the performance smoke check: each one-token kernel against a plain read of the
# same bytes, in the same run (mcompress bench --kernels). Timed, so not part of test.
bench-check: build
	$(BIN) bench --kernels -r 3 --check $(BENCH_FLOOR)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

# demo runs the recipe demo/recipe.yaml (mcompress pipeline) offline on the bundled teacher and
# writes demo-out/report/ (a second make demo skips the finished steps, docs/PIPELINE.md), then
# checks the report: sizes are the files', files the manifest's, perplexities recompute.
demo: build
	demo/run.sh demo-out
	MCOMPRESS_DEMO_OUT=$(CURDIR)/demo-out $(GO) test -count=1 -run '^TestDemoReport$$' ./cmd/mcompress

# demo-teacher re-creates demo/teacher with mcompress train (needs ../shared for the tokenizer
# and the training text; see demo/README.md). Not part of demo: its output is committed.
demo-teacher: build
	demo/make-teacher.sh

clean:
	rm -rf bin demo-out

# release cross-builds pure-Go binaries (no cgo; static on Linux, while Android and macOS require
# a PIE started by linker64 and a link to libSystem) into dist/ for the machines models run on: mcompress-OS-ARCH for each of
# RELEASE_TARGETS. The arm64 ones use the NEON kernels.
RELEASE_TARGETS ?= linux/amd64 linux/arm64 darwin/arm64 android/arm64

.PHONY: release test-arm64
release:
	@mkdir -p dist
	@set -e; for t in $(RELEASE_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; out=dist/mcompress-$$os-$$arch; \
		echo "$(GO) build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags='-s -w' -o $$out ./cmd/mcompress; \
	done

# test-arm64 runs the runtime's tests built for arm64 under qemu-user, with and without the
# dot-product extension (correctness only; see .ci/arm64.sh and docs/RUNTIME.md).
test-arm64:
	.ci/arm64.sh
