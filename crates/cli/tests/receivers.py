#!/usr/bin/env python3
"""Alert receivers for the `forecast watch` tests, on 127.0.0.1 only.

    receivers.py http PORT LOG [--status CODE] [--drop-first-ack]
    receivers.py smtp PORT LOG CERTDIR          (user / password from RECEIVER_USER / RECEIVER_PASSWORD)

`http`: a webhook (the standard library's threading HTTP server). Each POST is appended
to LOG as a JSON line {"key": <Idempotency-Key header>, "body": <the JSON body>} and
answered with CODE (200). With --drop-first-ack the first POST is recorded and its
connection closed without an answer: an acknowledgement lost on the way.

`smtp`: aiosmtpd with STARTTLS required and AUTH (PLAIN / LOGIN) required after it, its
certificate issued by a throwaway CA (trustme) whose certificate is written to
CERTDIR/ca.pem. Each accepted message is appended to LOG as {"message_id", "subject",
"from", "to", "body", "tls", "authenticated", "user"}.

Prints "ready" when listening; stops on SIGTERM or at the end of its standard input.
"""

import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def append(log, record):
    with open(log, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def http(port, log, status, drop_first_ack):
    dropped = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(n))
            append(log, {"key": self.headers.get("Idempotency-Key"), "body": body})
            if drop_first_ack and not dropped.is_set():
                dropped.set()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.shutdown


def smtp(port, log, certdir):
    import email
    import ssl

    import trustme
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    user = os.environ["RECEIVER_USER"].encode()
    password = os.environ["RECEIVER_PASSWORD"].encode()
    ca = trustme.CA()
    ca.cert_pem.write_to_path(os.path.join(certdir, "ca.pem"))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user
            and auth_data.password == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            m = email.message_from_bytes(envelope.content)
            append(
                log,
                {
                    "message_id": m["Message-ID"],
                    "subject": m["Subject"],
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "body": m.get_payload(decode=True).decode(),
                    "tls": session.ssl is not None,
                    "authenticated": session.authenticated,
                    "user": session.auth_data.login.decode()
                    if isinstance(session.auth_data, LoginPassword)
                    else None,
                },
            )
            return "250 OK"

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    return controller.stop


def main():
    kind, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if kind == "http":
        args = sys.argv[4:]
        status = int(args[args.index("--status") + 1]) if "--status" in args else 200
        stop = http(port, log, status, "--drop-first-ack" in args)
    else:
        stop = smtp(port, log, sys.argv[4])
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("ready", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    stop()


if __name__ == "__main__":
    main()
