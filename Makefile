# hakgen: build, run and test hakgen-agent.
#   make run    render the built-in example state (no arguments needed)
#   make test   install what the tests need when missing, then run every test
#   make build  build bin/hakgen-agent
#   make deb    build dist/hakgen-agent_<version>_<arch>.deb (amd64, arm64)
#   make lab    run the HA lab (root): every scenario, failovers 3 times;
#               SCENARIO=name runs one; the table goes to lab-results.json
#   make bench  run every benchmark (about 20 minutes) and write BENCHMARKS.md

GO        ?= go
BIN       := bin/hakgen-agent
# The same version rule as the packages (packaging/version.sh).
VERSION   := $(shell sh packaging/version.sh 2>/dev/null || echo devel)
COMMIT    := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Debian packages the tests run for real. The HA lab (./lab) also needs
# psmisc (killall, in the seed's keepalived check) and nftables (nft, for
# rules a scenario loads into a node).
TEST_DEBS := haproxy keepalived dbus-daemon iproute2 systemd util-linux hcloud-cli debootstrap lintian prometheus psmisc nftables
# The binaries that prove those packages are there.
TEST_BINS := /usr/sbin/debootstrap /usr/sbin/haproxy /usr/sbin/keepalived /usr/bin/dbus-daemon /usr/sbin/ip /lib/systemd/systemd /usr/bin/nsenter /usr/bin/hcloud /usr/bin/lintian /usr/bin/promtool /usr/bin/killall /usr/sbin/nft

# A Debian 13 tree with HAProxy 3.0, for checking haproxy.cfg on a second
# HAProxy branch (tests run its haproxy -c in a chroot).
export HAKGEN_HAPROXY30_ROOT ?= /var/cache/hakgen-test/trixie-haproxy

# CI sets CI=true: then a missing tool fails a test instead of skipping it.
ifneq ($(CI),)
export HAKGEN_REQUIRE_TOOLS := 1
endif

.PHONY: run test build deps vet tidy clean lab bench

run:
	@$(GO) run ./cmd/hakgen-agent render

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hakgen-agent

deps:
	@missing=0; for b in $(TEST_BINS); do [ -x $$b ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
		echo "installing test dependencies: $(TEST_DEBS)"; \
		sh scripts/install-test-deps.sh $(TEST_DEBS); \
	fi
	@if [ ! -x $(HAKGEN_HAPROXY30_ROOT)/usr/sbin/haproxy ] && [ "$$(id -u)" = 0 ]; then \
		echo "building a Debian 13 tree with HAProxy 3.0 in $(HAKGEN_HAPROXY30_ROOT)"; \
		sh scripts/make-haproxy-3.0-root.sh $(HAKGEN_HAPROXY30_ROOT); \
	fi

vet:
	$(GO) vet ./...

# The module files are tidy and every Go file is formatted: CI fails on
# any difference, so the next change does not inherit one.
tidy:
	@out=$$($(GO) mod tidy -diff) || { echo "go.mod/go.sum are not tidy (go mod tidy -diff):"; echo "$$out"; exit 1; }
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

test: deps vet tidy
	$(GO) test -count=1 -timeout 20m ./...

clean:
	rm -rf bin

# The HA lab: the pair of load balancers, the fake Hetzner API, the
# backends and a client in network namespaces (see README, "Watch it fail
# over"). Every scenario runs; failovers LAB_RUNS times (min/median/max);
# SCENARIO=name runs one scenario (both ways where it has a seed run).
# The long scenarios run at their full length (-lab.long: a 60 s partition
# at the default heal interval, 30 edits under load, 10 minutes idle at
# the fast profile); go test ./lab (CI) runs them shorter.
# Needs root; a missing tool fails it. LAB_LOGS=DIR keeps every journal.
LAB_RUNS ?= 3
SCENARIO ?=
LAB_LOGS ?=
lab: deps
	HAKGEN_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 60m -v \
		-run '^TestLab$$$(if $(SCENARIO),/^$(SCENARIO)$$)' ./lab \
		-args -lab.long -lab.runs=$(LAB_RUNS) -lab.results=$(CURDIR)/lab-results.json $(if $(LAB_LOGS),-lab.logs=$(abspath $(LAB_LOGS)))
# Not part of test: it takes about 20 minutes and its figures depend on
# the machine. BENCH_* variables tune it (see bench/bench.sh).
bench:
	bash bench/bench.sh -o BENCHMARKS.md

# Debian packages of hakgen-agent, one per architecture, built with nfpm
# (a Go tool pinned in go.mod) into $(DIST). The version rule is in
# packaging/version.sh; override with DEB_VERSION=... when needed.
DIST        ?= dist
DEB_ARCHES  := amd64 arm64
DEB_VERSION := $(shell sh packaging/version.sh)
DEB_EPOCH   := $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
DEB_DATE    := $(shell date -u -R -d @$(DEB_EPOCH))
DEB_LDFLAGS := -s -w -X main.version=$(DEB_VERSION) -X main.commit=$(COMMIT)

# The example /etc/hakgen/state.yaml of the package: a header with the
# marker line the unit waits for, then the README's quick-start state.
PACKAGED_STATE := packaging/state-header.yaml testdata/quickstart.yaml

.PHONY: deb $(DEB_ARCHES:%=deb-%) clean-deb

deb: $(DEB_ARCHES:%=deb-%)

$(DEB_ARCHES:%=deb-%): deb-%:
	@test -n '$(DEB_VERSION)' || { echo "deb: no version (see packaging/version.sh)" >&2; exit 1; }
	rm -rf $(DIST)/$* && mkdir -p $(DIST)/$*/doc
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(DEB_LDFLAGS)' -o $(DIST)/$*/hakgen-agent ./cmd/hakgen-agent
	$(GO) run ./packaging/gencopyright -head packaging/copyright -bin $(DIST)/$*/hakgen-agent \
		-modcache "$$($(GO) env GOMODCACHE)" -goroot "$$($(GO) env GOROOT)" >$(DIST)/$*/doc/copyright
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@DATE@/$(DEB_DATE)/' packaging/changelog | gzip -9n >$(DIST)/$*/doc/changelog.gz
	cp README.md $(DIST)/$*/doc/README.md
	cat $(PACKAGED_STATE) >$(DIST)/$*/state.yaml
	$(GO) run ./cmd/hakgen-agent gendocs --man $(DIST)/$*/man --completion $(DIST)/$*/completion --date $(DEB_EPOCH)
	gzip -9n $(DIST)/$*/man/*.8
	SOURCE_DATE_EPOCH=$(DEB_EPOCH) HAKGEN_DEB_VERSION='$(DEB_VERSION)' HAKGEN_DEB_ARCH=$* HAKGEN_DEB_BIN=$(DIST)/$*/hakgen-agent HAKGEN_DEB_DOC=$(DIST)/$*/doc \
		HAKGEN_DEB_STATE=$(DIST)/$*/state.yaml HAKGEN_DEB_MAN=$(DIST)/$*/man HAKGEN_DEB_COMPLETION=$(DIST)/$*/completion \
		$(GO) tool nfpm package --packager deb --config packaging/nfpm.yaml --target $(DIST)/hakgen-agent_$(DEB_VERSION)_$*.deb

clean-deb:
	rm -rf $(DIST)
