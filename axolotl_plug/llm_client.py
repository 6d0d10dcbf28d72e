"""One client for OpenAI-compatible chat-completions endpoints (OpenAI, vLLM, SGLang,
a local gateway), used by the judge and the translator.

Concurrency is a thread pool; each request has a timeout and is retried with
exponential backoff on 429, 5xx and connection errors. The API key is read from an
environment variable, sent only in the Authorization header and never logged.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, TypeVar

import httpx

T = TypeVar("T")
R = TypeVar("R")

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class ChatError(RuntimeError):
    """A request that failed after all retries (server or connection errors)."""


@dataclass
class ChatClient:
    model: str
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    max_retries: int = 5
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    temperature: float = 0.0
    max_tokens: int | None = None

    def __post_init__(self):
        key = os.environ.get(self.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.base_url.rstrip("/"), headers=headers, timeout=self.timeout)

    def __repr__(self) -> str:  # never show the headers (the key) in logs or tracebacks
        return f"ChatClient(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply text. Raises ChatError after the retries."""
        body = {"model": self.model, "messages": messages, "temperature": self.temperature}
        if self.max_tokens:
            body["max_tokens"] = self.max_tokens
        problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4))
            try:
                response = self._http.post("/chat/completions", json=body)
            except httpx.HTTPError as exc:  # connection refused, reset, timeout
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUS:
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise ChatError(f"HTTP {response.status_code} from {self.base_url}: {response.text[:300]}")
            try:
                return response.json()["choices"][0]["message"]["content"] or ""
            except (ValueError, KeyError, IndexError, TypeError):
                problem = f"malformed reply: {response.text[:200]}"
        raise ChatError(f"{self.base_url}: gave up after {self.max_retries + 1} attempts ({problem})")

    def close(self) -> None:
        self._http.close()


def run_concurrently(work: Callable[[T], R], items: Iterable[T], concurrency: int) -> Iterator[tuple[T, R | Exception]]:
    """Apply `work` to items with at most `concurrency` in flight; yield (item, result
    or exception) as each finishes, so callers can write results as they come."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {pool.submit(work, item): item for item in items}
        try:
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except Exception as exc:  # noqa: BLE001 - handed to the caller to count
                    yield futures[future], exc
        except BaseException:
            for future in futures:
                future.cancel()
            raise
