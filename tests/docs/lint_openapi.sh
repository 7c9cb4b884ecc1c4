#!/bin/sh
# lint_openapi.sh - Redocly's lint of docs/openapi.yaml (og-docs-openapi-lint),
# with the rules in redocly.yaml and the exceptions in .redocly.lint-ignore.yaml.
# Runs from tests/docs, where `npm ci` installs the pinned @redocly/cli
# (make deps-docs, which make test runs). Without it: exit 77 (ctest shows
# the test as skipped) and say how to install it, unless
# OG_DOCS_LINT_REQUIRED=1 (make test, CI), where a missing linter fails.
set -eu
cd "$(dirname "$0")"
redocly=node_modules/.bin/redocly
if ! command -v node >/dev/null 2>&1 || [ ! -x "$redocly" ]; then
    echo "og-docs-openapi-lint: @redocly/cli is not installed: run 'make deps-docs'" \
        "(npm ci in tests/docs)"
    if [ "${OG_DOCS_LINT_REQUIRED:-0}" = 1 ]; then
        exit 1
    fi
    exit 77
fi
# No telemetry and no update check: CI reaches no network but the registries.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    exec "$redocly" lint --config redocly.yaml --format stylish ../../docs/openapi.yaml
