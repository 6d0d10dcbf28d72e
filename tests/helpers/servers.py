"""Real server processes on 127.0.0.1 for the tests and benchmarks: `transformers serve`
(an inference engine speaking the OpenAI-compatible API) and `axolotl plug serve` in front
of one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(name: str, command: list[str], env: dict, port: int, timeout: float) -> Iterator[str]:
    """Run `command` until it answers GET /health with 200 on `port`; yield its base URL
    (…/v1); stop it afterwards. Its output is shown if it exits or never answers."""
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

        def output() -> str:
            log.seek(0)
            return log.read()[-3000:]

        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited: {output()}")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start in {timeout} s: {output()}")
                time.sleep(0.2)
            yield f"{url}/v1"
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def transformers_serve(model_dir: Path, scratch: Path, timeout: float = 180.0):
    """Serve `model_dir` (forced: every request gets it); yields the base URL."""
    port = free_port()
    cache = scratch / "hub-cache"  # /v1/models answers 500 without an existing hub cache folder
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "TOKENIZERS_PARALLELISM": "false"}
    command = [
        str(BIN / "transformers"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
        str(model_dir),
    ]
    return running("transformers serve", command, env, port, timeout)


def plug_serve(upstream: str, *args: str, timeout: float = 120.0):
    """The real `plug serve` command (`python -m axolotl_plug serve`, the click group of
    `axolotl plug`) in front of `upstream`; yields its base URL."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AXOLOTL_DO_NOT_TRACK": "1"}
    command = [sys.executable, "-m", "axolotl_plug", "serve", "--upstream", upstream, "--port", str(port), *args]
    return running("plug serve", command, env, port, timeout)
