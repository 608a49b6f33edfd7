# streamctl: build, test, demo. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X github.com/streamctl/streamctl/cmd.Version=$(VERSION)
BIN := bin/streamctl
KAFKA_STATE ?= /tmp/streamctl-kafka
CLUSTER_STATE ?= /tmp/streamctl-cluster

.PHONY: help build test test-kafka test-faust test-sr test-faults demo lint bench fuzz man clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# urfave_cli_no_docs leaves out urfave/cli's man and markdown writers, whose
# dependencies' package init every run would pay for; make man builds with them.
# CGO_ENABLED=0 links statically: no dynamic loader, libc or cgo runtime to
# start (about 1 ms a run); host names resolve with Go's own resolver
# (/etc/hosts and DNS, as /etc/nsswitch.conf orders them).
build: ## build bin/streamctl with the version stamped in
	CGO_ENABLED=0 $(GO) build -trimpath -tags urfave_cli_no_docs -ldflags '$(LDFLAGS)' -o $(BIN) .

test: ## unit and integration tests against the in-process broker
	$(GO) test -race -count=1 -timeout 15m ./...

test-kafka: build ## the same suite plus security and Java interop tests against a real Apache Kafka (Java 17, Maven)
	scripts/kafka/start.sh
	set -a; source $(KAFKA_STATE)/env; set +a; \
	  status=0; $(GO) test -count=1 -timeout 30m ./... || status=$$?; \
	  scripts/kafka/stop.sh; exit $$status

test-faust: ## streamctl against real Faust apps (faust-streaming in a cached venv): in-process broker, then a real Apache Kafka
	@py=$${STREAMCTL_FAUST_PYTHON:-$$(scripts/faust/venv.sh)} || { \
	  if [ -n "$$CI" ]; then echo "test-faust: cannot build the faust-streaming venv (see above)"; exit 1; fi; \
	  echo "test-faust: SKIPPED: needs Python 3.8-3.12 with venv and pip, and the package index (see above)"; exit 0; }; \
	export STREAMCTL_FAUST_PYTHON=$$py; \
	$(GO) test -count=1 -timeout 10m -run Faust ./faust/ || exit $$?; \
	export STREAMCTL_KAFKA_STATE=$(KAFKA_STATE); scripts/kafka/start.sh || exit $$?; \
	set -a; source $(KAFKA_STATE)/env; set +a; \
	status=0; $(GO) test -count=1 -timeout 10m -run Faust ./faust/ || status=$$?; \
	scripts/kafka/stop.sh; exit $$status

test-faults: build ## brokers killed, stopped and restarted under streamctl: a three-broker Apache Kafka, kcat as the witness (<= 15 min)
	@summary=$$(mktemp); \
	trap 'scripts/kafka/cluster-stop.sh || true; echo "== fault tier figures"; cat '$$summary'; rm -f '$$summary EXIT; \
	export STREAMCTL_CLUSTER_STATE=$(CLUSTER_STATE) STREAMCTL_FAULTS_SUMMARY=$$summary; \
	scripts/kafka/cluster-start.sh || exit $$?; \
	set -a; source $(CLUSTER_STATE)/env; set +a; \
	$(GO) test -count=1 -timeout 15m -v ./faults/

test-sr: build ## schema-registry codecs against Apicurio Registry 3.0.9 and a real Apache Kafka, with Confluent's Python serializers on the other end
	@py=$${STREAMCTL_SR_PYTHON:-$$(scripts/registry/venv.sh)} || { \
	  if [ -n "$$CI" ]; then echo "test-sr: cannot build the confluent-kafka venv (see above)"; exit 1; fi; \
	  echo "test-sr: SKIPPED: needs Python 3.9+ with venv and pip, and the package index (see above)"; exit 0; }; \
	export STREAMCTL_SR_PYTHON=$$py STREAMCTL_TEST_SR=1 STREAMCTL_SR_BIN=$(CURDIR)/$(BIN) STREAMCTL_KAFKA_STATE=$(KAFKA_STATE); \
	status=0; \
	{ scripts/kafka/start.sh && scripts/registry/start.sh; } || status=$$?; \
	if [ $$status -eq 0 ]; then \
	  set -a; source $(KAFKA_STATE)/env; source $${STREAMCTL_REGISTRY_STATE:-/tmp/streamctl-registry}/env; set +a; \
	  $(GO) test -count=1 -timeout 8m ./srtest/ || status=$$?; \
	  STREAMCTL_SR_URL=$$STREAMCTL_TEST_REGISTRY $(GO) test -count=1 -timeout 5m -run ConfluentPython ./cmd/ || status=$$?; \
	fi; \
	scripts/registry/stop.sh; scripts/kafka/stop.sh; exit $$status

demo: build ## start the built-in broker and schema registry, produce and consume sample JSON and Avro messages
	@scripts/demo.sh $(BIN)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: build ## streamctl against kcat on the same broker; writes docs/BENCHMARKS.md
	scripts/bench.sh $(BIN)

fuzz: ## run every fuzz target for FUZZTIME (default 20s) each
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-20s} $$pkg || exit 1; \
	  done; \
	done

man: ## write the man page docs/streamctl.1 from the flag definitions (man ./docs/streamctl.1)
	mkdir -p docs && $(GO) run -trimpath -ldflags '$(LDFLAGS)' . __man > docs/streamctl.1

clean: ## remove build output
	rm -rf bin
