"""A real OpenAI-compatible engine stand-in on 127.0.0.1 that streams scripted answers.

The last user message picks the behaviour, so one server serves every case:

    "chars:<text>"   stream <text> one character per SSE chunk, then [DONE]
    "cut:<text>"     stream <text>, then end the HTTP response cleanly without [DONE]
    "finished:<text>" stream <text> and its finish_reason, then end without [DONE]
                     (as `transformers serve` does)
    "break:<text>"   stream <text>, then drop the connection in the middle of a chunk
    "error:<text>"   stream <text>, then an SSE error event (as vLLM sends one)
    "slow:<text>"    one character every 50 ms (not streamed: the whole after as long);
                     records when the client hangs up
    "status:<code>"  answer with that HTTP status and an OpenAI error body
    "paced:<n>"      a target header, then n one-character chunks 1 ms apart, each with
                     `t_sent` (time.monotonic_ns() when written): for latency measurements

A request with `"stream": false` gets the whole text as one completion. Every request
body is kept in `requests` (to check what the proxy sent upstream).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chunk(text: str | None, finish: str | None = None, index: int = 0) -> dict:
    delta = {} if text is None else {"content": text}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "scripted",
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


class ScriptedEngine:
    def __init__(self):
        self.requests: list[dict] = []
        self.hung_up: list[float] = []  # monotonic times at which a client went away mid-stream
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    return self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests.append({"body": body, "headers": {k.lower(): v for k, v in self.headers.items()}})
                how, _, text = body["messages"][-1]["content"].partition(":")
                if how == "status":
                    return self._json(int(text), {"error": {"message": f"scripted {text}", "type": "server_error"}})
                paced = how == "paced"
                if paced:
                    text = "中文回复：\n" + "好" * int(text)
                if not body.get("stream"):
                    if how == "slow" and self._client_gone(len(text) * 0.05):
                        return server.hung_up.append(time.monotonic())
                    return self._json(200, {
                        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "scripted",
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 5, "completion_tokens": len(text), "total_tokens": 5 + len(text)}})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self._event(chunk(None) | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                            "finish_reason": None}]})
                    for char in text:
                        if how == "slow":
                            time.sleep(0.05)
                        if paced:
                            time.sleep(0.001)
                            self._event(chunk(char) | {"t_sent": time.monotonic_ns()})
                        else:
                            self._event(chunk(char))
                    if how == "break":
                        self.wfile.write(b"400\r\ndata: {\"choi")  # promises 1024 bytes, sends 12
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)  # really gone, not only this file object
                        return
                    if how == "error":
                        self._event({"error": {"message": "scripted engine failure", "type": "server_error", "code": 500}})
                    elif how == "finished":
                        self._event(chunk(None, "stop"))
                    elif how != "cut":
                        self._event(chunk(None, "stop"))
                        self._event(chunk(None) | {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": len(text),
                                                                          "total_tokens": 5 + len(text)}})
                        self._raw(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    server.hung_up.append(time.monotonic())

            def _client_gone(self, seconds: float) -> bool:
                """Wait up to `seconds` ("generating"); True as soon as the client hangs up."""
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    if select.select([self.connection], [], [], 0.02)[0] and not self.connection.recv(1, socket.MSG_PEEK):
                        return True
                return False

            def _event(self, data: dict):
                self._raw(b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n")

            def _raw(self, data: bytes):
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _json(self, status: int, payload: dict):
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "ScriptedEngine":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
