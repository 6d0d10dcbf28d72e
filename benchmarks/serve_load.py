"""`axolotl plug serve` under load and abuse, against a loopback engine that streams
instantly.

    python -m benchmarks.serve_load [--clients 64] [--requests 2000]

The engine (asyncio, in a process of its own) answers each request with a PLUG answer of its
own, chosen by the request's number, 4 characters per SSE chunk, each chunk stamped
with its send time. The real `axolotl plug serve` runs in its own process (a model
folder with plug.json and the demo tokenizer's stand-in: no weights are needed).

1. Cross-talk: `--clients` concurrent streaming clients send `--requests` requests in
   all; every client's `content` must equal `extract` of its own answer. Printed: the
   count of wrong answers (must be 0) and the requests per second.
2. Added latency per chunk at that concurrency: the same load straight to the engine and
   through the proxy; p50 and p99 of (arrival - send) per chunk, both ways, and their
   difference.
3. Hang-ups: as many clients again, half of them hang up after their first target
   chunk, on slow answers (20 ms per chunk). Every engine request of a client that hung
   up must be closed within 100 ms; afterwards no engine request is still open and the
   proxy holds no more sockets than before.
4. Memory: the proxy's resident memory after 200 requests and after all of them (the
   difference must stay under 20 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import httpx

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import extract
from axolotl_plug.serving.settings import write_settings
from tests.helpers.servers import plug_serve

REPO = Path(__file__).resolve().parents[1]

WORDS = ["river", "lamp", "orbit", "cedar", "violet", "harbor", "quartz", "meadow"]
HANZI = "山水花鸟风云日月星辰春夏秋冬"


def answer_for(n: int) -> str:
    """A PLUG answer that only request n gets (its length varies with n)."""
    pivot = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(5 + n % 17))
    target = "".join(HANZI[(n * 7 + i) % len(HANZI)] for i in range(10 + n % 23))
    return f"English instruction:\nRequest {n}\n\nEnglish response:\n{pivot} {n}\n\n中文回复：\n{target}{n}"


class Engine:
    """A minimal OpenAI-style streaming engine on asyncio: keep-alive connections, chunked
    SSE, and a record of when each slow request's connection was closed by its client."""

    def __init__(self):
        self.open_requests = 0
        self.closed_at: dict[int, float] = {}  # slow request number -> when its client went away
        self.server = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.connection, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"GET /status"):
                    status = json.dumps({"open_requests": self.open_requests, "closed_at": self.closed_at}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                        + str(len(status)).encode()
                        + b"\r\n\r\n"
                        + status
                    )
                    await writer.drain()
                    continue
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = json.loads(await reader.readexactly(length))
                how, number = body["messages"][-1]["content"].split(":")
                self.open_requests += 1
                try:
                    finished = await self.stream(reader, writer, int(number), slow=how == "slow")
                finally:
                    self.open_requests -= 1
                if not finished:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stream(self, reader, writer, number: int, slow: bool) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        text = answer_for(number)
        gone = asyncio.ensure_future(reader.read(1)) if slow else None  # b"" when the client closes
        try:
            for start in range(0, len(text), 4):
                self.event(
                    writer,
                    {
                        "choices": [{"index": 0, "delta": {"content": text[start : start + 4]}, "finish_reason": None}],
                        "t_sent": time.monotonic_ns(),
                    },
                )
                await writer.drain()
                if slow:
                    done, _ = await asyncio.wait({gone}, timeout=0.02)
                    if done:
                        self.closed_at[number] = time.monotonic()
                        return False
            self.event(writer, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            writer.write(b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n")
            await writer.drain()
            return not slow  # a slow request's watcher may hold the next request's first byte: close
        finally:
            if gone is not None and not gone.done():
                gone.cancel()
                await asyncio.gather(gone, return_exceptions=True)

    @staticmethod
    def run(urls) -> None:
        """Serve in this process (a child of the benchmark) until killed; put the URL on `urls`."""

        async def serve() -> None:
            engine = Engine()
            urls.put(await engine.start())
            await asyncio.Event().wait()

        asyncio.run(serve())

    @staticmethod
    def event(writer, data: dict) -> None:
        payload = b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"
        writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")


async def one_request(
    client: httpx.AsyncClient,
    url: str,
    number: int,
    delays: list[float],
    proxied: bool = True,
    hang_up: bool = False,
    slow: bool = False,
) -> tuple[str, float | None]:
    """Stream one answer; return its content (and, for a hang-up, when the client left)."""
    body = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": f"{'slow' if slow else 'load'}:{number}"}],
        "x_plug": {"target_language": "zh"},
    }
    content = []
    async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            arrived = time.monotonic_ns()
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            piece = (chunk["choices"][0]["delta"].get("content") or "") if chunk.get("choices") else ""
            # target text only, both ways: through the proxy nothing else arrives
            if "t_sent" in chunk and piece and (proxied or "中文回复：" in "".join(content)):
                delays.append((arrived - chunk["t_sent"]) / 1e6)
            content.append(piece)
            if hang_up and piece:
                left = time.monotonic()
                return "".join(content), left  # leaving the block closes the connection
    return "".join(content), None


def expected(number: int, proxied: bool) -> str:
    return extract(answer_for(number), "zh").target if proxied else answer_for(number)


async def load(
    url: str, clients: int, requests: int, proxied: bool, on_progress=None
) -> tuple[int, list[float], float]:
    """`requests` streamed requests from `clients` concurrent clients; (wrong answers,
    chunk delays in ms, seconds)."""
    queue = iter(range(requests))
    wrong, delays, done = 0, [], 0

    async def client_loop() -> None:
        nonlocal wrong, done
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1)) as client:
            for number in queue:
                content, _ = await one_request(client, url, number, delays, proxied)
                wrong += content != expected(number, proxied)
                done += 1
                if on_progress:
                    await on_progress(done)

    start = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return wrong, delays, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sockets(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    return sum(os.readlink(fd).startswith("socket:") for fd in fds.iterdir() if fd.exists())


def proxy_pid(port: int) -> int:
    """The process listening on `port` (the proxy, started by `axolotl plug serve`)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                inode = fields[9]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if any(os.readlink(fd) == f"socket:[{inode}]" for fd in (proc / "fd").iterdir()):
                    return int(proc.name)
            except OSError:
                continue
    raise RuntimeError(f"no process listens on {port}")


async def hang_ups(engine_url: str, url: str, clients: int) -> None:
    """Half the clients hang up after their first target chunk of a slow answer."""
    left: dict[int, float] = {}

    async def client(number: int) -> None:
        async with httpx.AsyncClient(timeout=60) as http:
            _, when = await one_request(http, url, number, [], hang_up=number % 2 == 0, slow=True)
            if when is not None:
                left[number] = when

    await asyncio.gather(*(client(100000 + i) for i in range(clients)))
    await asyncio.sleep(1.0)
    async with httpx.AsyncClient() as http:
        status = (await http.get(engine_url.removesuffix("/v1") + "/status")).json()
    closed_at = {int(n): t for n, t in status["closed_at"].items()}  # the same monotonic clock, another process
    lags = [(closed_at[n] - t) * 1000 for n, t in left.items() if n in closed_at]
    print(
        f"hang_ups clients={clients} hung_up={len(left)} engine_closed={len(lags)} "
        f"close_ms p50={percentile(lags, 0.5):.1f} max={max(lags):.1f} (target: every one under 100 ms)"
    )
    print(f"engine_requests_open_after={status['open_requests']} (target: 0)")


async def main_async(args, engine_url: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        write_settings(folder, PlugConfig(target_language="zh"), 4096)
        loop = asyncio.get_running_loop()
        manager = plug_serve(engine_url, "--model-dir", str(folder))
        url = await loop.run_in_executor(None, manager.__enter__)
        try:
            pid = proxy_pid(int(url.split(":")[2].split("/")[0]))
            await load(url, 4, 50, proxied=True)  # warm-up
            sockets_before = sockets(pid)
            memory = {}

            async def progress(done: int) -> None:
                if done in (200, args.requests):
                    memory[done] = rss_mb(pid)

            wrong, through, seconds = await load(url, args.clients, args.requests, True, progress)
            print(
                f"cross_talk clients={args.clients} requests={args.requests} wrong_answers={wrong} "
                f"requests_per_s={args.requests / seconds:.0f} (target: 0 wrong)"
            )
            wrong_direct, direct, _ = await load(engine_url, args.clients, args.requests, False)
            assert wrong_direct == 0
            for name, values in (("direct", direct), ("through_proxy", through)):
                print(
                    f"{name}_chunk_delay_ms p50={percentile(values, 0.5):.3f} p99={percentile(values, 0.99):.3f} "
                    f"n={len(values)}"
                )
            print(
                f"proxy_added_ms_at_{args.clients}_clients p50={percentile(through, 0.5) - percentile(direct, 0.5):.3f} "
                f"p99={percentile(through, 0.99) - percentile(direct, 0.99):.3f}"
            )
            print(
                f"proxy_rss_mb after_200={memory[200]:.1f} after_{args.requests}={memory[args.requests]:.1f} "
                f"growth={memory[args.requests] - memory[200]:.1f} (target: under 20)"
            )
            await hang_ups(engine_url, url, args.clients)
            print(
                f"proxy_sockets before={sockets_before} after={sockets(pid)} "
                "(keep-alive connections to the engine are pooled, up to 64)"
            )
        finally:
            await loop.run_in_executor(None, manager.__exit__, None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    urls = multiprocessing.Queue()
    engine = multiprocessing.Process(target=Engine.run, args=(urls,), daemon=True)  # its own process and core
    engine.start()
    try:
        asyncio.run(main_async(args, urls.get(timeout=30)))
    finally:
        engine.kill()


if __name__ == "__main__":
    main()
