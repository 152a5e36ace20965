# mcompress: build, test, benchmark and lint.
GO ?= go
BIN ?= bin/mcompress
PKGS ?= ./...

.PHONY: all build test test-full bench lint fmt demo demo-teacher clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/mcompress

# test runs the unit tests, the fuzz seed corpora and the fixture tests (when ../shared exists)
# in short mode, which skips only the heavy checks that belong in benchmarks.
test: lint
	$(GO) test -short -count=1 $(PKGS)

# test-full also runs the heavy checks.
test-full:
	$(GO) test -count=1 -timeout 60m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

# demo runs the whole pipeline offline on the bundled teacher and writes demo-out/report/.
demo: build
	demo/run.sh demo-out

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
