"""A real webhook receiver on loopback for Casework's webhook tests.

Usage: receiver.py DIR SECRET

Listens on 127.0.0.1 on a free port and prints "PORT <n>" once it accepts connections.
Every request's signature is verified with the `standardwebhooks` package from PyPI (the
reference implementation, not Casework's code); a request that fails verification is
answered 400 and counted in DIR/bad. How it answers a verified request is read from the
file DIR/mode at that moment:

    accept      204 (the default)
    fail:N      500 for the first N attempts of each webhook-id, then 204
    hold:S      record the delivery, then wait S seconds before the 204 (so the sender can
                be killed after the receiver has it but before it hears so)

Every verified attempt is appended to DIR/received.jsonl as {"id", "attempt", "answered",
"payload"}, in the order it arrived.
"""

import http.server
import json
import os
import sys
import threading
import time

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

FOLDER, SECRET = sys.argv[1], sys.argv[2]
os.makedirs(FOLDER, exist_ok=True)
VERIFIER = Webhook(SECRET)
LOCK = threading.Lock()
ATTEMPTS = {}


def mode():
    try:
        with open(os.path.join(FOLDER, "mode")) as f:
            return f.read().strip() or "accept"
    except FileNotFoundError:
        return "accept"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = VERIFIER.verify(body, headers)
        except WebhookVerificationError:
            with LOCK:
                path = os.path.join(FOLDER, "bad")
                n = int(open(path).read()) if os.path.exists(path) else 0
                with open(path, "w") as f:
                    f.write(str(n + 1))
            self.send_response(400)
            self.end_headers()
            return
        how = mode()
        with LOCK:
            msg_id = headers["webhook-id"]
            ATTEMPTS[msg_id] = ATTEMPTS.get(msg_id, 0) + 1
            attempt = ATTEMPTS[msg_id]
            answered = 204
            if how.startswith("fail:") and attempt <= int(how[5:]):
                answered = 500
            with open(os.path.join(FOLDER, "received.jsonl"), "a") as f:
                record = {"id": msg_id, "attempt": attempt, "answered": answered, "payload": payload}
                f.write(json.dumps(record) + "\n")
        if how.startswith("hold:"):
            time.sleep(float(how[5:]))
        self.send_response(answered)
        self.send_header("content-length", "0")
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
