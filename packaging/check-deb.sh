#!/usr/bin/env bash
# check-deb.sh BUILD_DIR - installs BUILD_DIR/omnigate_*.deb (make deb) on
# this machine with dpkg -i, as root (CI runs it on its build machine, where
# systemd is installed but not running), and checks what the package did:
#   1. its files, its Depends, the user omnigate, /etc/omnigate/omnigate.env;
#   2. `systemd-analyze verify` of the installed unit prints nothing;
#   3. the installed daemon accepts every installed example config
#      (/usr/share/omnigate/*.json, their ${ENV} secrets set) and the
#      service's /etc/omnigate/omnigate.json (also as user omnigate, who
#      must be able to read it), with its default connectors;
#   4. the installed example config (omnigate.example.json) and the service's
#      config are each started once as user omnigate in /var/lib/omnigate, as
#      the unit would (on a free port: only a copy's "listen" differs):
#      /healthz and /readyz answer 200, SIGTERM stops it with exit 0 and its
#      embedded redis-server goes with it;
#   5. dpkg --purge removes the package, its state and /etc/omnigate.
# It signals only the daemons it started, by pid. On failure the package
# stays installed for a look (dpkg --purge omnigate removes it).
set -euo pipefail
build=${1:?usage: check-deb.sh BUILD_DIR}
debs=("$build"/omnigate_*.deb)
deb=${debs[-1]}
[ -f "$deb" ] || { echo "check-deb: no $build/omnigate_*.deb (make deb)" >&2; exit 1; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "check-deb: FAIL: $*" >&2
    exit 1
}
step() { echo "check-deb: $*"; }

step "dpkg -i $deb"
dpkg -i "$deb"

# 1. files, dependencies, user, secrets
for f in /usr/bin/omnigate /usr/lib/omnigate/connectors/telegram.so \
    /usr/lib/omnigate/connectors/signed_json.so /usr/lib/systemd/system/omnigate.service \
    /usr/share/omnigate/omnigate.example.json /usr/share/omnigate/omnigate.demo.json \
    /usr/share/doc/omnigate/copyright /usr/include/omnigate/connector.h \
    /etc/omnigate/omnigate.json; do
    [ -e "$f" ] || fail "$f is not installed"
done
depends=$(dpkg-query -W -f='${Depends}' omnigate)
for d in redis-server libmicrohttpd12 libhiredis0.14 libjson-c5 libssl3 libcurl3-gnutls zlib1g; do
    grep -q "$d" <<<"$depends" || fail "Depends lacks $d: $depends"
done
id omnigate >/dev/null || fail "no user omnigate"
[ "$(stat -c %U /var/lib/omnigate)" = omnigate ] || fail "/var/lib/omnigate is not omnigate's"
[ "$(stat -c %a /etc/omnigate/omnigate.env)" = 600 ] || fail "omnigate.env is not 0600"
grep -Eq '^OMNIGATE_ADMIN_TOKEN=[0-9a-f]{48}$' /etc/omnigate/omnigate.env ||
    fail "omnigate.env has no admin token"
grep -qx /etc/omnigate/omnigate.json /var/lib/dpkg/info/omnigate.conffiles ||
    fail "/etc/omnigate/omnigate.json is not a conffile"

# 2. the unit
step "systemd-analyze verify omnigate.service"
out=$(systemd-analyze verify /usr/lib/systemd/system/omnigate.service 2>&1) ||
    fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify says: $out"

# 3. --check of every installed config, with the installed daemon
secrets=(OMNIGATE_ADMIN_TOKEN=check-admin-token-0123456789 OMNIGATE_DEMO_SECRET=check-secret
    OMNIGATE_REDIS_PASSWORD=)
for c in /usr/share/omnigate/*.json /etc/omnigate/omnigate.json; do
    (cd "$tmp" && env -i PATH=/usr/bin:/bin "${secrets[@]}" /usr/bin/omnigate --config "$c" --check) ||
        fail "--check $c"
done
# the service's user can read its config (/etc/omnigate is root:omnigate 0750)
(cd /var/lib/omnigate && setpriv --reuid=omnigate --regid=omnigate --init-groups \
    env -i PATH=/usr/bin:/bin "${secrets[@]}" /usr/bin/omnigate \
    --config /etc/omnigate/omnigate.json --check) || fail "user omnigate: --check /etc/omnigate/omnigate.json"

# 4. one start of a config as the service would run it: user omnigate, in
# /var/lib/omnigate, with a clean environment plus the secrets.
run_once() { # run_once CONFIG ENV...
    local config=$1
    shift
    local port copy redis_pid st=0
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    copy="$tmp/$(basename "$config")"
    sed -E "s/\"listen\": *\"[^\"]*\"/\"listen\": \"127.0.0.1:$port\"/" "$config" >"$copy"
    chmod 644 "$copy"
    grep -q "127.0.0.1:$port" "$copy" || fail "no listen key in $config"
    step "start $config as user omnigate on port $port"
    (cd /var/lib/omnigate && exec setpriv --reuid=omnigate --regid=omnigate --init-groups \
        env -i PATH=/usr/bin:/bin "$@" /usr/bin/omnigate --config "$copy") >"$tmp/log" 2>&1 &
    pid=$!
    local ok=
    for _ in $(seq 1 300); do # 30 s
        if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
            ok=1
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$ok" ] || {
        cat "$tmp/log" >&2
        fail "$config: /readyz did not answer 200"
    }
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || fail "$config: /healthz"
    redis_pid=$(sed -n 's/.*embedded redis-server pid \([0-9]*\) on.*/\1/p' "$tmp/log" | tail -n 1)
    [ -n "$redis_pid" ] || fail "$config: no embedded redis-server in the log"
    kill -TERM "$pid"
    wait "$pid" || st=$?
    pid=
    [ "$st" = 0 ] || {
        cat "$tmp/log" >&2
        fail "$config: exit status $st after SIGTERM"
    }
    for _ in $(seq 1 100); do # 10 s; a zombie init has not reaped yet counts as gone
        state=$(awk '{print $3}' "/proc/$redis_pid/stat" 2>/dev/null || true)
        [ -z "$state" ] || [ "$state" = Z ] && break
        sleep 0.1
    done
    [ -z "$state" ] || [ "$state" = Z ] || fail "$config: redis-server $redis_pid still runs"
    grep -q 'stopped' "$tmp/log" || fail "$config: no clean stop in the log"
}
run_once /usr/share/omnigate/omnigate.example.json "${secrets[@]}"
# shellcheck disable=SC2046 # one NAME=value per line, no spaces
run_once /etc/omnigate/omnigate.json $(grep -E '^[A-Z_]+=' /etc/omnigate/omnigate.env)

# 5. purge
step "dpkg --purge omnigate"
dpkg --purge omnigate
for f in /usr/bin/omnigate /var/lib/omnigate /etc/omnigate; do
    [ ! -e "$f" ] || fail "$f is still there after purge"
done
step "ok"
