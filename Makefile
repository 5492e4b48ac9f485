# hakgen: build, run and test hakgen-agent.
#   make run    render the built-in example state (no arguments needed)
#   make test   install what the tests need when missing, then run every test
#   make build  build bin/hakgen-agent

GO        ?= go
BIN       := bin/hakgen-agent
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT    := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Debian packages the tests run for real.
TEST_DEBS := haproxy keepalived dbus-daemon iproute2 systemd util-linux hcloud-cli
# The binaries that prove those packages are there.
TEST_BINS := /usr/sbin/haproxy /usr/sbin/keepalived /usr/bin/dbus-daemon /usr/sbin/ip /lib/systemd/systemd /usr/bin/nsenter /usr/bin/hcloud

# CI sets CI=true: then a missing tool fails a test instead of skipping it.
ifneq ($(CI),)
export HAKGEN_REQUIRE_TOOLS := 1
endif

.PHONY: run test build deps vet clean

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

vet:
	$(GO) vet ./...

test: deps vet
	$(GO) test -count=1 -timeout 20m ./...

clean:
	rm -rf bin
