# startsvc — build, test and run.
#   make up      bring the stack in this directory up (builds startsvc first)
#   make test    everything CI runs: installs Docker + compose v2 when missing, then vet and all tests
GO       ?= go
BIN      ?= bin/startsvc
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/startsvc/startsvc/internal/cli.Version=$(VERSION)
FUZZTIME ?= 15s
ARGS     ?=

.PHONY: build up down test unit docker fmt vet fuzz bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/startsvc

# up creates .env with generated secrets on first use (startsvc init refuses to
# overwrite one), then brings the stack up.
up: build
	@test -f .env || ./$(BIN) init
	./$(BIN) up $(ARGS)

down: build
	./$(BIN) down $(ARGS)

# docker installs and starts what the Docker-backed tests need (see scripts/ensure-docker.sh).
docker:
	bash scripts/ensure-docker.sh

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# unit runs the tests that need no Docker (Docker tests skip unless CI is set).
unit:
	$(GO) test -count=1 ./...

test: docker fmt vet
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) fuzz

fuzz:
	$(GO) test ./internal/compose -run '^$$' -fuzz '^FuzzFormatEnv$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/compose -run '^$$' -fuzz '^FuzzParseEnv$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/infisical -run '^$$' -fuzz '^FuzzDecodeSecrets$$' -fuzztime $(FUZZTIME)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
