"""A real chat-completions HTTP server on 127.0.0.1 that replies from a script.

Shared by the judge and translation tests. `script(body, call_number)` returns the
reply text, or `(status, text)` for an error response, or `("sleep", seconds, text)` to
answer late (a client timeout). Header names are kept lower-cased; error responses
ask for a 10 ms wait before a retry.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class ChatServer:
    def __init__(self, script: Callable[[dict, int], object]):
        self.script = script
        self.requests: list[dict] = []  # {"headers": ..., "body": ...} per call
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "path": self.path})
                    number = len(server.requests)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, "not found")
                reply = server.script(body, number)
                if isinstance(reply, tuple) and reply[0] == "sleep":
                    time.sleep(reply[1])
                    reply = reply[2]
                if isinstance(reply, tuple):
                    return self._send(reply[0], reply[1])
                payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}
                self._send(200, json.dumps(payload, ensure_ascii=False))

            def _send(self, status: int, text: str):
                data = text.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status >= 400:  # how long a client should wait before it retries
                        self.send_header("retry-after-ms", "10")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "ChatServer":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def user_messages(self) -> list[str]:
        return [r["body"]["messages"][-1]["content"] for r in self.requests]


def plug_command(*args: str, env: dict | None = None, timeout: int = 600, input: str | None = None):
    """`python -m axolotl_plug ARGS` (the same click group as `axolotl plug`, without
    axolotl's own start-up, seconds per call), as a user runs it from the repository;
    returns the CompletedProcess. `tests/test_cli.py` checks that both list the same
    commands."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.run([sys.executable, "-m", "axolotl_plug", *args], env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
                          capture_output=True, text=True, timeout=timeout, input=input if input is not None else "",
                          cwd=Path(__file__).resolve().parents[1])


@contextmanager
def host_state_restored():
    """Put back what a command run in this process changes for the rest of it: the log
    levels and variables `quiet_host` sets, and axolotl's process-wide plugin registry."""
    import logging
    import os

    from axolotl_plug.cli import HOST_LOG_VARIABLES, HOST_LOGGERS

    saved = {name: os.environ.pop(name, None) for name, _ in HOST_LOG_VARIABLES}
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in HOST_LOGGERS)]
    levels = [logger.level for logger in loggers]
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        for name, value in saved.items():  # commands this worker starts later must not inherit them
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
        try:
            from axolotl.integrations.base import PluginManager
        except ModuleNotFoundError:
            return
        PluginManager.get_instance().plugins.clear()


def plug_in_process(*args: str):
    """The same click group as `plug_command`, run in this test process by click's runner,
    for tests about what a command writes and prints rather than about its process: the
    worker has paid for importing torch, transformers and axolotl already, so a call costs
    what the command does (an audit: 1 s instead of 10). Returns a CompletedProcess like
    `plug_command`; an exception the command group does not turn into a message is raised."""
    from subprocess import CompletedProcess

    from click.testing import CliRunner

    from axolotl_plug.cli import plug

    with host_state_restored():
        result = CliRunner().invoke(plug, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def kill_when(args: list[str], path, lines: int, env: dict | None = None, timeout: float = 120.0) -> int:
    """Start `python -m axolotl_plug ARGS`, SIGKILL it once `path` holds at least `lines`
    lines (a crash in the middle of the run), and return how many complete lines the
    file holds then."""
    import os
    import signal
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "axolotl_plug", *args], env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if path.is_file() and path.read_bytes().count(b"\n") >= lines:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the command ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    return path.read_bytes().count(b"\n")
