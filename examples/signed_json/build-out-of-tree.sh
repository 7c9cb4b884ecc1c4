#!/bin/sh
# build-out-of-tree.sh - prove the signed_json example builds against an
# installed omnigate using nothing but pkg-config, and that the result loads.
#
#   build-out-of-tree.sh PREFIX [OMNIGATE_BUILD_DIR]
#
# PREFIX              where omnigate is (or gets) installed; its
#                     lib/pkgconfig/omnigate-connector.pc is what we build against.
# OMNIGATE_BUILD_DIR  optional: an omnigate build tree. When given, it is first
#                     installed into PREFIX (cmake --install), and afterwards
#                     the out-of-tree signed_json.so is put through the real
#                     loader (its og-unit-loader test with OG_LOADER_EXTRA).
#
# Steps: 1. configure and build examples/signed_json as a standalone CMake
# project; 2. build it again with the one-line cc command from the README;
# 3. check that each .so exports og_connector_entry and no other symbol;
# 4. dlopen each one and check its descriptor with a tiny program that uses
# only the installed header; 5. (with a build dir) load it with og_plugin_load.
# Work files go to a temp dir (kept when SJ_KEEP=1). Exits non-zero on failure.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 PREFIX [OMNIGATE_BUILD_DIR]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mkdir -p "$1" && cd "$1" && pwd)
build=${2:-}
CC=${CC:-cc}

work=$(mktemp -d "${TMPDIR:-/tmp}/sj-oot.XXXXXX")
cleanup() { if [ "${SJ_KEEP:-0}" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
step() { printf '== %s\n' "$*"; }

if [ -n "$build" ]; then
    step "install $build into $prefix"
    cmake --install "$build" --prefix "$prefix" >"$work/install.log"
fi

# The .pc file names the prefix omnigate was configured with; --define-prefix
# makes pkgconf derive it from where the .pc file really is, so an install
# made with "cmake --install --prefix" elsewhere works too.
PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
pc="pkg-config --define-prefix"
$pc --exists omnigate-connector || {
    echo "omnigate-connector.pc not found under $prefix/lib/pkgconfig" >&2
    exit 1
}
step "omnigate-connector $($pc --modversion omnigate-connector): $($pc --cflags omnigate-connector)"

step "cmake: configure and build $here"
cmake -S "$here" -B "$work/cmake" -DPKG_CONFIG_ARGN=--define-prefix \
    -DCMAKE_C_FLAGS="-Werror" >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; exit 1; }
so_cmake="$work/cmake/signed_json.so"
test -f "$so_cmake"

step "cc: the README's one-liner"
mkdir -p "$work/cc"
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC -fvisibility=hidden \
    $($pc --cflags omnigate-connector) -o "$work/cc/signed_json.so" "$here/signed_json.c"
so_cc="$work/cc/signed_json.so"

step "exported symbols"
for so in "$so_cmake" "$so_cc"; do
    syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u)
    if [ "$syms" != "og_connector_entry" ]; then
        echo "$so exports more than og_connector_entry:" >&2
        echo "$syms" >&2
        exit 1
    fi
done

step "dlopen and check the descriptor"
cat >"$work/check.c" <<'EOF'
/* Loads each plugin given and checks its descriptor as the host would. */
#include <dlfcn.h>
#include <omnigate/connector.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        void *dl = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
        const struct og_connector *(*entry)(void) = NULL;
        if (dl)
            *(void **)&entry = dlsym(dl, OG_CONNECTOR_ENTRY_SYMBOL);
        const struct og_connector *c = entry ? entry() : NULL;
        if (!c || c->abi_major != OG_CONNECTOR_ABI_MAJOR ||
            c->abi_minor > OG_CONNECTOR_ABI_MINOR || c->struct_size != sizeof *c ||
            !c->name || strcmp(c->name, "signed_json") != 0 || !c->options || !c->create ||
            !c->destroy || !c->send || !c->handle_http) {
            fprintf(stderr, "%s: bad plugin (%s)\n", argv[i], dl ? "descriptor" : dlerror());
            bad = 1;
        } else {
            printf("%s: %s %s, ABI %u.%u\n", argv[i], c->name, c->version, c->abi_major,
                   c->abi_minor);
        }
        if (dl)
            dlclose(dl);
    }
    return bad;
}
EOF
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror $($pc --cflags omnigate-connector | sed 's/-fPIC//') \
    -o "$work/check" "$work/check.c" -ldl
"$work/check" "$so_cmake" "$so_cc"

if [ -n "$build" ]; then
    loader="$build/bin/og-unit-loader"
    if [ -x "$loader" ]; then
        step "the real loader (og_plugin_load via og-unit-loader)"
        for so in "$so_cmake" "$so_cc"; do
            OG_LOADER_EXTRA="$so" "$loader" >"$work/loader.log" 2>&1 || {
                cat "$work/loader.log" >&2
                exit 1
            }
            grep "^loaded " "$work/loader.log"
        done
    else
        echo "note: $loader not built; skipped the real-loader check"
    fi
fi
step "ok"
