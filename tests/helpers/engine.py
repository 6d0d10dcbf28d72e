"""One fake OpenAI-compatible engine: a real HTTP server on 127.0.0.1 whose answers
are scripted, for the judging, scoring, data and serving tests.

With `script(body, call_number)`, every chat request is answered from it, in one JSON
completion: the reply text, a message dict (`reasoning_content` and `content`, as an engine
with a reasoning parser splits a reply), `(status, text)` for an error response (which asks for a
10 ms wait before a retry), or `("sleep", seconds, text)` to answer late (a client
timeout). Without a script, the last user message picks the behaviour, streamed when
the request asks for it:

    "chars:<text>"    stream <text> one character per SSE chunk, then [DONE]
    "cut:<text>"      stream <text>, then end the HTTP response cleanly without [DONE]
    "finished:<text>" stream <text> and its finish_reason, then end without [DONE]
                      (as `transformers serve` does)
    "break:<text>"    stream <text>, then drop the connection in the middle of a chunk
    "error:<text>"    stream <text>, then an SSE error event (as vLLM sends one)
    "slow:<text>"     one character every 50 ms (not streamed: the whole after as long);
                      records when the client hangs up
    "status:<code>"   answer with that HTTP status and an OpenAI error body
    "paced:<n>"       a target header, then n one-character chunks 1 ms apart, each with
                      `t_sent` (time.monotonic_ns() when written): for latency measurements

Every request is kept in `requests` ({"headers" (lower-cased names), "body", "path"}).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAT_PATH = "/v1/chat/completions"


def chunk(text: str | None, finish: str | None = None, index: int = 0) -> dict:
    delta = {} if text is None else {"content": text}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "scripted",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


def completion(text: str) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "scripted",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": len(text), "total_tokens": 5 + len(text)},
    }


class FakeEngine:
    def __init__(self, script: Callable[[dict, int], object] | None = None):
        self.script = script
        self.requests: list[dict] = []
        self.hung_up: list[float] = []  # monotonic times at which a client went away mid-answer
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            # a script answers each request on a connection of its own; the streaming
            # behaviours keep the connection, as engines do
            protocol_version = "HTTP/1.0" if script else "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    return self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.requests.append(
                        {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "path": self.path}
                    )
                    number = len(server.requests)
                if self.path.rstrip("/") != CHAT_PATH:
                    return self._send(404, "not found")
                if server.script:
                    return self._scripted(server.script(body, number))
                self._behaviour(body)

            def _scripted(self, reply):
                if isinstance(reply, tuple) and reply[0] == "sleep":
                    time.sleep(reply[1])
                    reply = reply[2]
                if isinstance(reply, tuple):
                    return self._send(reply[0], reply[1])
                # a dict is a message an engine with a reasoning parser sends (reasoning_content, content)
                message = (
                    {"role": "assistant", **reply}
                    if isinstance(reply, dict)
                    else {"role": "assistant", "content": reply}
                )
                payload = {"choices": [{"index": 0, "message": message}]}
                self._send(200, json.dumps(payload, ensure_ascii=False))

            def _behaviour(self, body: dict):
                how, _, text = body["messages"][-1]["content"].partition(":")
                if how == "status":
                    return self._json(int(text), {"error": {"message": f"scripted {text}", "type": "server_error"}})
                paced = how == "paced"
                if paced:
                    text = "中文回复：\n" + "好" * int(text)
                if not body.get("stream"):
                    if how == "slow" and self._client_gone(len(text) * 0.05):
                        return server.hung_up.append(time.monotonic())
                    return self._json(200, completion(text))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self._event(
                        chunk(None)
                        | {
                            "choices": [
                                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                            ]
                        }
                    )
                    for char in text:
                        if how == "slow":
                            time.sleep(0.05)
                        if paced:
                            time.sleep(0.001)
                            self._event(chunk(char) | {"t_sent": time.monotonic_ns()})
                        else:
                            self._event(chunk(char))
                    if how == "break":
                        self.wfile.write(b'400\r\ndata: {"choi')  # promises 1024 bytes, sends 12
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)  # really gone, not only this file object
                        return
                    if how == "error":
                        self._event(
                            {"error": {"message": "scripted engine failure", "type": "server_error", "code": 500}}
                        )
                    elif how == "finished":
                        self._event(chunk(None, "stop"))
                    elif how != "cut":
                        self._event(chunk(None, "stop"))
                        self._event(
                            chunk(None)
                            | {
                                "choices": [],
                                "usage": {
                                    "prompt_tokens": 5,
                                    "completion_tokens": len(text),
                                    "total_tokens": 5 + len(text),
                                },
                            }
                        )
                        self._raw(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    server.hung_up.append(time.monotonic())

            def _client_gone(self, seconds: float) -> bool:
                """Wait up to `seconds` ("generating"); True as soon as the client hangs up."""
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    if select.select([self.connection], [], [], 0.02)[0] and not self.connection.recv(
                        1, socket.MSG_PEEK
                    ):
                        return True
                return False

            def _event(self, data: dict):
                self._raw(b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n")

            def _raw(self, data: bytes):
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _json(self, status: int, payload: dict):
                self._send(status, json.dumps(payload, ensure_ascii=False))

            def _send(self, status: int, text: str):
                data = text.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status >= 400 and server.script:  # how long a client should wait before it retries
                        self.send_header("retry-after-ms", "10")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeEngine:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def user_messages(self) -> list[str]:
        return [r["body"]["messages"][-1]["content"] for r in self.requests]
