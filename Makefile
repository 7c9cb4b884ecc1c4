# omnigate - the two commands a newcomer needs (see README.md):
#   make run    install what is missing, build, run on the embedded default
#   make test   install what is missing, build with -Werror, run every test
# and a few more: test-asan (AddressSanitizer + UBSan), fuzz (clang,
# libFuzzer, briefly), bench (figures), example (out-of-tree plugin build),
# install (PREFIX=/usr/local).

BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian 12 / Ubuntu packages, see ../shared/TOOLCHAIN.md. libcurl4-gnutls-dev,
# not the OpenSSL flavour: that one conflicts with libetpan-dev.
PKGS := cmake pkg-config gcc make curl openssl ca-certificates \
	libcurl4-gnutls-dev libmicrohttpd-dev libssl-dev libjson-c-dev libhiredis-dev \
	libetpan-dev libsasl2-modules redis-server redis-tools python3 python3-aiosmtpd \
	dovecot-imapd dovecot-lmtpd
FUZZ_PKGS := clang-14 libclang-rt-14-dev llvm-14

.PHONY: all deps deps-fuzz build run test test-asan fuzz bench example install clean

all: build

deps:
	@missing=$$(for p in $(PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

deps-fuzz:
	@missing=$$(for p in $(FUZZ_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DOG_WERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

# The demo configuration needs no outside account: one "signed_json" channel
# (the example connector) and omnigate's own embedded redis-server in ./var.
run: build
	OMNIGATE_ADMIN_TOKEN=$${OMNIGATE_ADMIN_TOKEN:-demo-admin-token-change-me} \
	OMNIGATE_DEMO_SECRET=$${OMNIGATE_DEMO_SECRET:-demo-secret} \
	./$(BUILD)/bin/omnigate --config config/omnigate.demo.json

test: build
	cd $(BUILD) && ctest --output-on-failure -j2

test-asan: deps
	cmake -S . -B $(BUILD)-asan -DOG_WERROR=ON -DOG_SANITIZE=ON -DOG_BUILD_BENCH=OFF
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2

fuzz: deps deps-fuzz
	CC=clang-14 cmake -S . -B $(BUILD)-fuzz -DOG_FUZZ=ON -DOG_BUILD_EXAMPLES=ON -DOG_BUILD_BENCH=OFF
	cmake --build $(BUILD)-fuzz -j$(JOBS)
	cd $(BUILD)-fuzz && ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer \
		ctest --output-on-failure -R '^og-fuzz-'

bench: build
	@for b in $(BUILD)/bin/bench_*; do echo "== $$b"; $$b || exit 1; done

# Builds the example connector out of tree against an installed omnigate,
# with nothing but pkg-config omnigate-connector.
example: build
	rm -rf $(BUILD)/example-prefix
	cmake --install $(BUILD) --prefix $(CURDIR)/$(BUILD)/example-prefix
	bash examples/signed_json/build-out-of-tree.sh $(CURDIR)/$(BUILD)/example-prefix
	@# the installed daemon finds its installed connectors with no flag
	$(BUILD)/example-prefix/bin/omnigate --connector-help signed_json | grep -q '^connector signed_json'
	@echo "example: out-of-tree build and installed daemon ok"

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz
