# omnigate - the two commands a newcomer needs (see README.md):
#   make run    install what running needs, build, run on the embedded default
#   make test   install that and the test servers, build with -Werror, run every test
# and a few more: test-asan (AddressSanitizer + UBSan), fuzz (clang,
# libFuzzer, briefly), bench (figures), example (out-of-tree plugin build),
# install (PREFIX=/usr/local), deb (a Debian package with CPack) and
# deb-check (installs that package on this machine and starts it once),
# and the source checks: layering (.ci/layering), format-check (.ci/format,
# clang-format 14) and format (formats every C file in place).

BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian 12 packages, see ../shared/TOOLCHAIN.md. libcurl4-gnutls-dev,
# not the OpenSSL flavour: that one conflicts with libetpan-dev.
# RUN_PKGS: building and running (make run): the compiler and libraries,
# redis-server for the embedded Redis, curl and openssl for README's demo,
# zlib1g-dev for the session archive's compressed segments (core/og_archive.c).
RUN_PKGS := cmake pkg-config gcc libc6-dev make curl openssl ca-certificates \
	libcurl4-gnutls-dev libmicrohttpd-dev libgnutls28-dev libssl-dev libjson-c-dev libhiredis-dev \
	libetpan-dev libsasl2-modules libargon2-dev zlib1g-dev redis-server
# TEST_PKGS: what the tests start or call (make test, bench). On a machine
# without a policy-rc.d that stops services, installing dovecot also starts
# a system IMAP server on port 143: the reason make run does not install it.
# python3-yaml: the docs' checks read docs/openapi.yaml (tests/docs).
TEST_PKGS := redis-tools python3 python3-aiosmtpd python3-yaml dovecot-imapd dovecot-lmtpd nginx-light
FUZZ_PKGS := clang-14 libclang-rt-14-dev llvm-14
# LINT_PKGS: the pinned formatter of .ci/format (make format, format-check):
# Debian 12's clang-format 14; another version formats differently.
LINT_PKGS := clang-format-14
# BROWSER_PKGS: the browser tests (tests/browser): Debian's Chromium, and
# Node.js (deps-node: npm is Debian's npm package or comes inside a nodejs
# providing it), which the docs' lint (tests/docs, deps-docs) needs too.
BROWSER_PKGS := chromium fonts-dejavu-core
# PACK_PKGS: make deb (dpkg-shlibdeps) and deb-check (systemd-analyze, adduser,
# python3 to pick a free port).
PACK_PKGS := dpkg-dev systemd adduser python3

# $(call apt_missing,PACKAGES): apt-get installs those not installed yet.
define apt_missing
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

.PHONY: all deps deps-test deps-fuzz deps-lint deps-pack deps-node deps-browser deps-docs deps-s3 build run test test-asan fuzz bench example \
	install deb deb-check clean format format-check layering

all: build

deps:
	$(call apt_missing,$(RUN_PKGS))

deps-test: deps
	$(call apt_missing,$(TEST_PKGS))

deps-fuzz:
	$(call apt_missing,$(FUZZ_PKGS))

deps-lint:
	$(call apt_missing,$(LINT_PKGS))

deps-pack: deps
	$(call apt_missing,$(PACK_PKGS))

deps-node:
	$(call apt_missing,nodejs)
	@command -v npm >/dev/null || { $(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm; }

deps-browser: deps-node
	$(call apt_missing,$(BROWSER_PKGS))
	cd tests/browser && npm ci --no-audit --no-fund

# The pinned s3rver, the local S3 implementation og-int-media-s3 runs
# the media store against (#21.1).
deps-s3: deps-node
	cd tests/s3 && npm ci --no-audit --no-fund

# The pinned @redocly/cli that lints docs/openapi.yaml (og-docs-openapi-lint).
deps-docs: deps-node
	cd tests/docs && npm ci --no-audit --no-fund

build: deps
	cmake -S . -B $(BUILD) -DOG_WERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

# The demo configuration needs no outside account: one "signed_json" channel
# (the example connector) and omnigate's own embedded redis-server in ./var.
# Its admin, admin@demo.local, signs in at /inbox/ with OMNIGATE_DEMO_PASSWORD
# when set, else with a password generated and printed at the first run
# (var/.demo-admin remembers that it was; delete it for a new one).
DEMO_ADMIN := admin@demo.local
run: build
	@export OMNIGATE_ADMIN_TOKEN=$${OMNIGATE_ADMIN_TOKEN:-demo-admin-token-change-me}; \
	export OMNIGATE_DEMO_SECRET=$${OMNIGATE_DEMO_SECRET:-demo-secret}; \
	og="./$(BUILD)/bin/omnigate --config config/omnigate.demo.json"; \
	if [ -n "$$OMNIGATE_DEMO_PASSWORD" ]; then \
		printf '%s\n' "$$OMNIGATE_DEMO_PASSWORD" | $$og passwd $(DEMO_ADMIN) >/dev/null || exit 1; \
		echo "inbox: http://127.0.0.1:8080/inbox/  sign in as $(DEMO_ADMIN) with OMNIGATE_DEMO_PASSWORD"; \
	elif [ ! -f var/.demo-admin ]; then \
		pw=$$(openssl rand -base64 18 | tr -d '/+='); \
		printf '%s\n' "$$pw" | $$og passwd $(DEMO_ADMIN) >/dev/null || exit 1; \
		mkdir -p var && touch var/.demo-admin; \
		echo "inbox: http://127.0.0.1:8080/inbox/  sign in as $(DEMO_ADMIN) with password $$pw"; \
		echo "       (shown once; set OMNIGATE_DEMO_PASSWORD to choose one)"; \
	else \
		echo "inbox: http://127.0.0.1:8080/inbox/  sign in as $(DEMO_ADMIN) (password printed at the first run)"; \
	fi; \
	echo "web chat: http://127.0.0.1:8080/webchat/demo  (a customer's side; answer in the inbox)"; \
	exec $$og

# OG_DOCS_LINT_REQUIRED: the docs' lint fails instead of skipping when its
# linter is missing (deps-docs installed it).
test: deps-test deps-browser deps-docs deps-s3 build
	cd $(BUILD) && OG_DOCS_LINT_REQUIRED=1 ctest --output-on-failure -j2

test-asan: deps-test deps-browser deps-docs deps-s3
	cmake -S . -B $(BUILD)-asan -DOG_WERROR=ON -DOG_SANITIZE=ON -DOG_BUILD_BENCH=OFF
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && OG_DOCS_LINT_REQUIRED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2

fuzz: deps deps-fuzz
	CC=clang-14 cmake -S . -B $(BUILD)-fuzz -DOG_FUZZ=ON -DOG_BUILD_EXAMPLES=ON -DOG_BUILD_BENCH=OFF
	cmake --build $(BUILD)-fuzz -j$(JOBS)
	cd $(BUILD)-fuzz && ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer \
		ctest --output-on-failure -R '^og-fuzz-'

layering:
	bash .ci/layering

format-check: deps-lint
	bash .ci/format

format: deps-lint
	bash .ci/format --fix

bench: deps-test build
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

# The Debian package: its own tree configured for /usr, without tests, and
# with the system files (systemd unit, /etc/omnigate). See packaging/.
deb: deps-pack
	cmake -S . -B $(BUILD)-deb -DOG_WERROR=ON -DOG_PACKAGE=ON -DCMAKE_INSTALL_PREFIX=/usr \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DOG_BUILD_TESTS=OFF -DOG_BUILD_BENCH=OFF
	cmake --build $(BUILD)-deb -j$(JOBS)
	cd $(BUILD)-deb && cpack -G DEB
	@ls $(BUILD)-deb/omnigate_*.deb

# Installs that package here with dpkg -i (as root), checks it and its
# service, starts it once, stops it, and purges it: see packaging/check-deb.sh.
deb-check: deb
	$(SUDO) bash packaging/check-deb.sh $(BUILD)-deb

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz $(BUILD)-deb
