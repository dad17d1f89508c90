"""A real HTTP server, on a thread of the test process, that receives webhooks as a school's
system would: it checks each signature with the Standard Webhooks library, keeps what it got,
and answers with the status codes it is told to (e.g. 500, 500, then 200)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


class Receiver:
    def __init__(self, secret: str = "", answers=(), kill=None, tls=None):
        self.secret = secret
        self.tls = tls  # an ssl.SSLContext to serve https with
        self.answers = list(answers)  # status codes to give, in turn; 200 once they run out
        self.received: list[dict] = []  # every request: id, headers, body, verified
        self.lock = threading.Lock()
        self.on_receive = kill  # called with the count of requests so far (the kill test)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server.server_address[1]}/hook"

    def ids(self) -> list[str]:
        with self.lock:
            return [r["id"] for r in self.received]

    def __enter__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {key.lower(): value for key, value in self.headers.items()}
                verified = []
                for secret in receiver.secret if isinstance(receiver.secret, (list, tuple)) else [receiver.secret]:
                    try:
                        Webhook(secret).verify(body, headers)
                        verified.append(True)
                    except Exception:
                        verified.append(False)
                with receiver.lock:
                    receiver.received.append(
                        {"id": headers.get("webhook-id"), "headers": headers, "body": json.loads(body), "verified": verified}
                    )
                    count = len(receiver.received)
                    status = receiver.answers.pop(0) if receiver.answers else 200
                if receiver.on_receive is not None:
                    receiver.on_receive(count)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answered {status}".encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
