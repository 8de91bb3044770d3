# moose: `make run` starts the example project on the embedded engine;
# `make test` installs what the tests need and runs them all with -race.
GO      ?= go
BIN     := bin/moose
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build run test test-short lint bench chdb fuzz clean

build: chdb
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/moose

# Installs libchdb.so into ~/.cache/moose when it is missing.
chdb:
	@scripts/install-chdb.sh >/dev/null

run: build
	cd examples/quickstart && ../../$(BIN) dev

# Everything the tests need (chDB, a ClickHouse server), then go test -race.
test:
	scripts/test.sh

test-short: chdb
	$(GO) test -short ./...

# vet, gofmt, and the import layering (internal/archtest enforces STYLE's layers).
lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: files above need formatting" && exit 1)
	$(GO) test -count=1 ./internal/archtest/

fuzz:
	FUZZTIME=60s scripts/fuzz.sh

bench: build
	bench/run.sh

clean:
	rm -rf bin
