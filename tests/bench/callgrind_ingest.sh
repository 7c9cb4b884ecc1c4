#!/usr/bin/env bash
# callgrind_ingest.sh - instructions per ingested message, deterministic
# where bench_ingest's times are not (a virtual machine's speed can drift by
# 2x within minutes): bench_ingest runs twice, 4,000 and 8,000 requests,
# with the daemon (or redis-server) under valgrind's callgrind, and the
# difference of the two totals over the 4,000 extra requests is printed.
# Both runs open the same 2,000 conversations first, so the difference is
# 4,000 further messages: the C ingest path (og_ingest.c). Runs agree
# within a few percent (the daemon's ~1-2%, Redis's ~5-8%: how many
# messages a group commit takes, and how often the statistics worker
# applies its facts, still depend on timing).
#
# usage: tests/bench/callgrind_ingest.sh [build dir (default build)] [daemon|redis|both]
# needs valgrind (apt-get install valgrind); takes a few minutes.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
what=${2:-daemon}
command -v valgrind > /dev/null || { echo "callgrind_ingest: valgrind is not installed" >&2; exit 1; }
[ -x "$build/bin/bench_ingest" ] || { echo "callgrind_ingest: no $build/bin/bench_ingest" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the wrappers the bench starts instead of the programs themselves
cat > "$tmp/omnigate" << EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$tmp/daemon.%p.cg "$build/bin/omnigate" "\$@"
EOF
mkdir "$tmp/path"
cat > "$tmp/path/redis-server" << EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$tmp/redis.%p.cg $(command -v redis-server) "\$@"
EOF
chmod +x "$tmp/omnigate" "$tmp/path/redis-server"

# total instructions of one run's profiles of kind $1 (daemon or redis)
run() {
    local n=$1 kind=$2
    rm -f "$tmp"/*.cg
    local env=(OG_BENCH_EXTRA="${OG_BENCH_EXTRA:-}")
    [ "$kind" = daemon ] && env+=(OG_TEST_OMNIGATE="$tmp/omnigate")
    [ "$kind" = redis ] && env+=(PATH="$tmp/path:$PATH")
    env "${env[@]}" timeout 1200 "$build/bin/bench_ingest" "$n" 600 > "$tmp/bench.$n.log" 2>&1 ||
        { cat "$tmp/bench.$n.log" >&2; exit 1; }
    grep -h '^summary:' "$tmp"/$kind.*.cg | awk '{s += $2} END {printf "%.0f\n", s}'
}

for kind in daemon redis; do
    [ "$what" = both ] || [ "$what" = "$kind" ] || continue
    a=$(run 4000 "$kind")
    b=$(run 8000 "$kind")
    echo "$kind: $(( (b - a) / 4000 )) instructions per further message ($a for 4,000 requests, $b for 8,000)"
done
