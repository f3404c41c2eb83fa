"""A real SMTP server on loopback for Casework's email tests, built on aiosmtpd.

Usage: smtp_server.py DIR [--auth USER:PASS] [--cert PEM --key PEM [--implicit-tls]]

Listens on 127.0.0.1 on a free port and prints "PORT <n>" once it accepts connections.
How it answers each message is read from the file DIR/mode at that moment, so a test can
change it while the server runs:

    accept          250 (the default)
    tempfail        451: try again later
    reject          550: mailbox unavailable
    slow:SECONDS    wait, then 250 (to trip the client's timeout)
    hold:SECONDS    record the message, then wait before the 250 (so the client can be
                    killed after the server has the message but before it hears so)

Every message the server takes is parsed with Python's email package (a real MIME parser)
and written as DIR/msg-<n>.json: envelope, decoded headers, body text and the raw bytes.
Every attempt, taken or not, is counted in DIR/attempts.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


class Handler:
    def __init__(self, folder):
        self.folder = folder
        self.taken = 0
        self.attempts = 0

    def mode(self):
        try:
            with open(os.path.join(self.folder, "mode")) as f:
                return f.read().strip() or "accept"
        except FileNotFoundError:
            return "accept"

    def record(self, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        self.taken += 1
        data = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {k: str(v) for k, v in message.items()},
            "content_type": message.get_content_type(),
            "charset": body.get_content_charset() if body is not None else None,
            "body": body.get_content() if body is not None else None,
            "raw": envelope.content.decode("ascii", errors="replace"),
        }
        path = os.path.join(self.folder, f"msg-{self.taken}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
        os.replace(path + ".tmp", path)

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        with open(os.path.join(self.folder, "attempts"), "w") as f:
            f.write(str(self.attempts))
        mode = self.mode()
        if mode == "tempfail":
            return "451 4.3.0 Mailbox busy, try again later"
        if mode == "reject":
            return "550 5.1.1 No such mailbox here"
        if mode.startswith("slow:"):
            await asyncio.sleep(float(mode.split(":", 1)[1]))
        self.record(envelope)
        if mode.startswith("hold:"):
            await asyncio.sleep(float(mode.split(":", 1)[1]))
        return "250 2.0.0 Message accepted"


def authenticator(expected):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            expected is not None
            and getattr(auth_data, "login", None) == expected[0].encode()
            and getattr(auth_data, "password", None) == expected[1].encode()
        )
        return AuthResult(success=ok, handled=False)

    return check


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--auth")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    handler = Handler(args.folder)
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    auth = tuple(args.auth.split(":", 1)) if args.auth else None

    def factory():
        return SMTP(
            handler,
            enable_SMTPUTF8=True,
            hostname="smtp.test",
            tls_context=None if args.implicit_tls else context,
            require_starttls=bool(context) and not args.implicit_tls,
            auth_required=auth is not None,
            auth_require_tls=False,
            authenticator=authenticator(auth) if auth else None,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory, "127.0.0.1", 0, ssl=context if args.implicit_tls else None
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
