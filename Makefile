# The two commands a new user needs are `make demo` and `make test`.
# Both install what they need on a fresh Debian machine by themselves.

GO        ?= go
GOBIN     := $(shell $(GO) env GOPATH)/bin
BIN       := bin
OUT       := out
export PATH := $(GOBIN):$(PATH)

.PHONY: all build deps tools prefetch test test-unit test-race test-apiserver fuzz site-test test-upgrade first-app demo bench bench-check bench-record bench-site lint clean

all: build

build:
	$(GO) build -trimpath -o $(BIN)/bundle ./cmd/bundle
	$(GO) build -trimpath -o $(BIN)/deploy ./cmd/deploy

# Debian packages (docker-registry, skopeo, containerd, rpm, dnf, ...).
deps:
	bash scripts/install-deps.sh

# Go tools from the module proxy: crane, cosign, helm, staticcheck.
tools:
	bash scripts/install-tools.sh

test: deps tools build prefetch lint test-unit test-race fuzz test-apiserver site-test first-app

# The site test's two long builds (Kubernetes from source, the host image)
# start in the background, so they overlap the other tests.
prefetch:
	bash scripts/prefetch.sh

test-unit:
	$(GO) test -count=1 -timeout 30m ./...

# The race detector over the quick tests (-short leaves out the long ones).
test-race:
	$(GO) test -race -short -count=1 -timeout 30m ./...

# The tests of /stack against a real etcd and kube-apiserver, from the
# Kubernetes build the site test uses (scripts/k8s/build.sh: cached, and
# started early by prefetch); test-unit skips them without it.
test-apiserver:
	dir=$$(bash scripts/k8s/build.sh | tail -n 1) && \
	APPLIANCE_K8S_BIN=$$dir/bin $(GO) test -count=1 -timeout 20m ./internal/stack/ && \
	APPLIANCE_K8S_BIN=$$dir/bin $(GO) test -count=1 -timeout 20m -run 'TestStack' ./internal/deploy/ && \
	APPLIANCE_K8S_BIN=$$dir/bin $(GO) test -count=1 -timeout 20m -run 'TestBuildRecordsTheInstallPlan' ./internal/build/

# Each fuzz target runs briefly; failing inputs are kept under testdata/fuzz.
fuzz:
	bash scripts/fuzz.sh 15s

# crane (make tools) builds the site bundles' test images.
site-test: deps tools build
	bash scripts/site-test.sh

# deploy upgrade's site test: Kubernetes v1.26.13 built from source as well
# (the module and build caches shared with v1.26.15's), a site deployed
# from it and upgraded to v1.26.15 with a kill in every phase, on one
# master and a worker (TestKubernetesUpgrade), then on three masters and a
# worker (TestKubernetesUpgradeHA). Not in make test: the second Kubernetes
# build does not fit CI's budget.
test-upgrade: deps tools build
	SITE_TEST_UPGRADE=1 SITE_TEST_RUN=TestKubernetesUpgrade bash scripts/site-test.sh

# docs/first-app.md, run literally: one's own app onto the test site.
first-app: deps tools build
	bash scripts/first-app-test.sh

# crane (make tools) builds the platform bundle's demo image.
demo: deps tools build
	bash scripts/demo.sh

bench: deps tools build
	bash scripts/bench.sh

# A fresh bench against docs/bench-recorded.md: fails when a target is missed
# or a ratio is more than 15% worse (BENCH_FRESH=FILE compares FILE instead).
bench-check: deps tools build
	bash scripts/bench/check.sh

# The deploy side: per-phase times from the site test's journals (run the site
# test with APPLIANCE_SITE_TIMES=$$PWD/out/site-times first; see docs/bench.md).
bench-site:
	bash scripts/bench/site.sh

# Records the last bench (out/bench/last.md) as the one bench-check compares with.
bench-record:
	cp $(OUT)/bench/last.md docs/bench-recorded.md

lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	staticcheck ./...

clean:
	rm -rf $(BIN) $(OUT)
