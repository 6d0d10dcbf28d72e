"""Served generation speed: `generate --base-url` against a loopback server that takes
100 ms per answer, 805 prompts (X-AlpacaEval's size) at concurrency 16.

    python -m benchmarks.generate_served [--prompts 805] [--concurrency 16] [--latency 0.1]

The ideal is prompts x latency / concurrency seconds; the last line is
`ratio_to_ideal=X`, measured time over the ideal, timed from the first request (after
imports, server and client start-up). Target: X <= 1.3.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ANSWER = "English instruction:\nSay hello.\n\nEnglish response:\nHello!\n\n中文回复：\n你好！"


def slow_server(latency: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real engines
        disable_nagle_algorithm = True  # headers and body go out at once, as real engines send them

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(latency)
            body = json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "m",
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}
                    ],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=805)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()

    from axolotl_plug.args import PlugConfig
    from axolotl_plug.eval.served import generate_served
    from axolotl_plug.io.client import ChatClient

    server = slow_server(args.latency)
    client = ChatClient("m", f"http://127.0.0.1:{server.server_address[1]}/v1", api_key_env="PLUG_BENCH_NO_KEY")
    records = [{"id": i, "instruction": f"问题 {i}", "lang": "zh"} for i in range(args.prompts)]
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "answers.jsonl"
        start = time.perf_counter()
        generate_served(
            client,
            records,
            PlugConfig(target_language="zh"),
            output,
            "bench",
            max_new_tokens=64,
            concurrency=args.concurrency,
            progress=False,
        )
        elapsed = time.perf_counter() - start
        lines = len(output.read_text(encoding="utf-8").splitlines())
    client.close()
    server.shutdown()
    ideal = args.prompts * args.latency / args.concurrency
    print(
        f"{lines} answers in {elapsed:.2f} s; ideal {ideal:.2f} s ({args.prompts} x {args.latency} s / {args.concurrency})"
    )
    print(f"ratio_to_ideal={elapsed / ideal:.2f}")


if __name__ == "__main__":
    main()
