# Dovetail — build, test and benchmark targets.
# `make run` syncs a demo pair (nothing to configure); `make test` runs every test.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/dovetail
PKGS  := ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build run test test-short bench bench-go lint fmt vet tidy deps clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/dovetail

# The agent on its embedded default: one demo task between two local
# folders under $XDG_DATA_HOME/dovetail/demo (created on first use), kept
# in sync until Ctrl-C. `dovetail demo` syncs the same pair once.
run: build
	./$(BIN) agent

# Every test, with the race detector off (cgo SQLite + race is slow on 2
# cores); CI=true makes tests that need a server fail instead of skip.
test: deps
	$(GO) vet $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)   # the macOS desktop build stays compilable
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) test -count=1 -timeout 30m $(PKGS)

test-short:
	$(GO) test -short $(PKGS)

# Benchmarks against the peers on generated data; results go to
# docs/benchmarks.md (see bench/README.md).
bench: build
	bash bench/run.sh

# Go micro-benchmarks of the hot paths (reconcile, statedb, scan, hashing),
# one iteration each: a quick regression check, not the peer comparison.
bench-go:
	$(GO) test -run '^$$' -bench . -benchtime=1x $(PKGS)

lint: vet
	@command -v golangci-lint >/dev/null && golangci-lint run || echo "golangci-lint not installed: ran go vet only"

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

tidy:
	$(GO) mod tidy

# Tools and system packages the tests need. Idempotent; needs root for apt.
deps:
	@bash .ci/deps.sh

clean:
	rm -rf bin
