#!/usr/bin/python3
# smtp_sink.py - a loopback SMTP server for the follow-up tests (aiosmtpd,
# TOOLCHAIN.md 5c). Run it with Debian's /usr/bin/python3 (aiosmtpd).
#
#   smtp_sink.py PORT MAILDIR [--auth user:pass] [--fail-first N] [--reject]
#
# Every accepted message is stored in MAILDIR (new/) with X-MailFrom,
# X-RcptTo and X-AuthUser headers added. Every DATA attempt appends one line
# "<code> <rcpt>" to MAILDIR/attempts.log, so a test can count tries.
#   --fail-first N  answer "451 4.3.0 try again later" to the first N messages
#   --reject        answer "550 5.1.1 mailbox unavailable" to every message
#   --auth u:p      require AUTH (PLAIN/LOGIN) with these credentials
#   --tls CERT KEY  offer STARTTLS with this certificate (AUTH then needs TLS)
#   --stall-first S hold the first message's DATA for S seconds, then answer
#                   451 (a client that dies meanwhile leaves nothing stored)
# Prints "ready" once listening; stops on SIGTERM.
import argparse, asyncio, mailbox, os, signal, ssl, threading
from email import message_from_bytes, policy
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("maildir")
ap.add_argument("--auth")
ap.add_argument("--fail-first", type=int, default=0)
ap.add_argument("--reject", action="store_true")
ap.add_argument("--stall-first", type=float, default=0)
ap.add_argument("--tls", nargs=2)
a = ap.parse_args()
md = mailbox.Maildir(a.maildir, create=True)
log_path = os.path.join(a.maildir, "attempts.log")
lock = threading.Lock()
state = {"n": 0}


def log(code, envelope):
    with open(log_path, "a") as f:
        f.write("%d %s\n" % (code, ",".join(envelope.rcpt_tos)))


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with lock:
            state["n"] += 1
            n = state["n"]
        if n == 1 and a.stall_first > 0:
            log(0, envelope)  # "0": a DATA started and is being held
            await asyncio.sleep(a.stall_first)
            log(451, envelope)
            return "451 4.3.0 try again later"
        if a.reject:
            log(550, envelope)
            return "550 5.1.1 mailbox unavailable"
        if n <= a.fail_first:
            log(451, envelope)
            return "451 4.3.0 try again later"
        msg = message_from_bytes(envelope.original_content or envelope.content,
                                 policy=policy.compat32)
        msg["X-MailFrom"] = envelope.mail_from
        msg["X-RcptTo"] = ", ".join(envelope.rcpt_tos)
        if getattr(server, "_tls_protocol", None) is not None:
            msg["X-TLS"] = "yes"
        if session.authenticated:
            msg["X-AuthUser"] = getattr(session, "x_user", "?")
        md.add(msg)
        log(250, envelope)
        return "250 OK stored"


def authenticator(server, session, envelope, mechanism, auth_data):
    user, pw = a.auth.split(":", 1)
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
          and auth_data.password == pw.encode())
    if ok:
        session.x_user = user
    return AuthResult(success=ok, handled=False)


kw = {}
if a.tls:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*a.tls)
    kw["tls_context"] = ctx
    kw["require_starttls"] = True
if a.auth:
    kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(a.tls))
c = Controller(Handler(), hostname="127.0.0.1", port=a.port, ready_timeout=10, **kw)
c.start()
print("ready", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
c.stop()
