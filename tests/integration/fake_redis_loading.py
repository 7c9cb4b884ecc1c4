#!/usr/bin/python3
# fake_redis_loading.py - stands in for redis-server in test_embedded_loading:
# the daemon starts it (config redis.server) with redis-server's arguments.
#
#   fake_redis_loading.py MODE SECONDS REDIS_SERVER ARGS...
#
# It listens on the --unixsocket path of ARGS and, for SECONDS (forever when
# negative), answers every command as MODE says:
#   loading  "-LOADING ..." (and INFO with a made-up loading_loaded_perc:42.0,
#            as Redis answers INFO while it loads); then it execs the real
#            REDIS_SERVER with ARGS, keeping its pid, as a slow load would end
#   error    "-ERR fake refuses", so the daemon must give up at once
#   exit     nothing: exits 3 at once, as a redis-server that cannot start
import os
import selectors
import socket
import sys
import time

mode, seconds, server, args = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
if mode == "exit":
    sys.exit(3)
path = args[args.index("--unixsocket") + 1]

INFO = ("# Persistence\r\nloading:1\r\nloading_loaded_perc:42.0\r\n"
        "loading_eta_seconds:7\r\n")
ANSWER = {
    "loading": b"-LOADING Redis is loading the dataset in memory\r\n",
    "error": b"-ERR fake refuses\r\n",
}[mode]


def answer(data):
    # One request per read is enough for the daemon's one-command connections.
    if mode == "loading" and b"INFO" in data.upper():
        body = INFO.encode()
        return b"$%d\r\n%s\r\n" % (len(body), body)
    return ANSWER


if os.path.exists(path):
    os.unlink(path)
lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lsock.bind(path)
lsock.listen(64)
sel = selectors.DefaultSelector()
sel.register(lsock, selectors.EVENT_READ)
end = time.monotonic() + seconds if seconds >= 0 else None
while end is None or time.monotonic() < end:
    for key, _ in sel.select(timeout=0.05):
        if key.fileobj is lsock:
            conn, _ = lsock.accept()
            sel.register(conn, selectors.EVENT_READ)
            continue
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if data:
            key.fileobj.sendall(answer(data))
        else:
            sel.unregister(key.fileobj)
            key.fileobj.close()
for key in list(sel.get_map().values()):
    key.fileobj.close()
os.unlink(path)
os.execvp(server, [server] + args)
