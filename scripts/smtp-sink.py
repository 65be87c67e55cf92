#!/usr/bin/env python3
"""A private, throw-away SMTP server for tests (the outbox and crates/smtp).

    scripts/smtp-sink.py PORT DIR

Listens on 127.0.0.1:PORT (0: a free port chosen by the system), plain SMTP (no TLS),
and prints "ready PORT" on stdout once listening. Every accepted message becomes one
file DIR/NNNNNN.json (NNNNNN: arrival order, from 000001), written to a temporary
name and renamed, so a reader never sees half a file:

    {"mail_from": "...", "rcpt_tos": ["...", ...], "data": "<the DATA bytes, base64>"}

What it does is read from DIR/mode at each step of every transaction:
    accept    (also when the file is missing) accept everything
    tempfail  451 at RCPT TO (and at DATA)
    permfail  550 at RCPT TO
    hang      never answer the end of DATA (sleeps an hour)

AUTH PLAIN and LOGIN are offered without TLS: user `mairie`, password `secret` is
accepted, anything else gets 535. A client that does not authenticate is accepted too.

Exits when its standard input closes (the test process ended, even killed) or on
SIGTERM/SIGINT. Needs Debian's python3-aiosmtpd (1.4).
"""

import asyncio
import base64
import json
import logging
import os
import signal
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USER = b"mairie"
PASSWORD = b"secret"
MODES = ("accept", "tempfail", "permfail", "hang")


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    def mode(self):
        try:
            with open(os.path.join(self.directory, "mode"), encoding="utf-8") as f:
                mode = f.read().strip()
        except FileNotFoundError:
            return "accept"
        if mode not in MODES:
            print(f"smtp-sink: unknown mode {mode!r}, accepting", file=sys.stderr)
            return "accept"
        return mode

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        mode = self.mode()
        if mode == "tempfail":
            return "451 4.3.0 Try again later (smtp-sink tempfail)"
        if mode == "permfail":
            return "550 5.1.1 Mailbox unavailable (smtp-sink permfail)"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "tempfail":
            return "451 4.3.0 Try again later (smtp-sink tempfail)"
        if mode == "permfail":
            return "554 5.6.0 Message refused (smtp-sink permfail)"
        if mode == "hang":
            await asyncio.sleep(3600)
        self.count += 1
        name = f"{self.count:06d}.json"
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": base64.b64encode(envelope.original_content or b"").decode("ascii"),
        }
        tmp = os.path.join(self.directory, f".{name}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, os.path.join(self.directory, name))
        return "250 2.0.0 OK: queued as " + name


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER,
        PASSWORD,
    )
    return AuthResult(success=ok, handled=False)


async def main(port, directory):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    sink = Sink(directory)

    def factory():
        return SMTP(
            sink,
            hostname="smtp-sink.test",
            ident="parapheur smtp-sink",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=authenticator,
            loop=loop,
        )

    server = await loop.create_server(factory, host="127.0.0.1", port=port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def watch_stdin():
        # Returns at end of file: the parent closed the pipe or died.
        while sys.stdin.buffer.read(65536):
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()

    actual = server.sockets[0].getsockname()[1]
    print(f"ready {actual}", flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    # aiosmtpd warns about its own deprecated attributes on every login.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    if len(sys.argv) != 3:
        print("usage: smtp-sink.py PORT DIR", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
    except KeyboardInterrupt:
        pass
    # Connections still hanging in DATA must not keep the process alive.
    os._exit(0)
