"""Many requests, one JSON line per finished one: the runner behind `judge`, `score`,
`generate --base-url` and `data translate`.

Work runs `concurrency` at a time; each result is appended and flushed as it arrives,
so a crash or Ctrl-C loses at most the requests in flight, and a rerun asks only for
what the file does not hold yet. A request the endpoint refuses for a reason that
will not change (HTTP 400, 401, 403, 404) stops the whole run at once: every later
request would be refused the same way.

`ask_all` is the judge-model side: each `Ask` is one chat request whose reply is read
into a value (a verdict, a rating, an extracted answer); the line written keeps the
reply as it came, the value read from it, the model, and a hash of the exact messages
sent, so that changed prompts or answers are asked again and nothing else is.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from axolotl_plug.io.client import ChatClient, ChatError
from axolotl_plug.io.records import WRITTEN_BY, LineFile, finished

T = TypeVar("T")
R = TypeVar("R")

# refusals that every later request would get too
FATAL_STATUSES = frozenset({400, 401, 403, 404})


class _NotSent(Exception):
    """A request not sent because an earlier one was refused for good."""


def is_fatal(error: Exception) -> bool:
    return isinstance(error, ChatError) and error.status in FATAL_STATUSES


def run_concurrently(work: Callable[[T], R], items: Iterable[T], concurrency: int) -> Iterator[tuple[T, R | Exception]]:
    """Apply `work` to items with at most `concurrency` in flight; yield (item, result
    or exception) as each finishes. Closing the iterator early cancels what has not
    started."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {pool.submit(work, item): item for item in items}
        try:
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except Exception as exc:
                    yield futures[future], exc
        finally:
            for future in futures:
                future.cancel()


def append_concurrently(
    work: Callable[[T], R],
    items: list[T],
    files: dict[str, Path],
    line: Callable[[T, R], tuple[str, dict]],
    *,
    concurrency: int,
    bar,
) -> list[tuple[T, Exception]]:
    """Run `work` over `items` and, as each finishes, append the row of `line(item,
    result)` to the JSONL file it names (a key of `files`). Advances the
    progress `bar`. Returns the items whose work failed, with their exceptions; raises
    the first fatal refusal (`is_fatal`) at once, after writing what had finished."""
    failures = []
    refused = threading.Event()

    def guarded(item: T) -> R:
        if refused.is_set():  # set by the worker that was refused, so no later request starts
            raise _NotSent
        try:
            return work(item)
        except Exception as exc:
            if is_fatal(exc):
                refused.set()
            raise

    with ExitStack() as stack:
        stack.callback(bar.close)
        handles = {name: stack.enter_context(LineFile(path)) for name, path in files.items()}
        results = stack.enter_context(closing(run_concurrently(guarded, items, concurrency)))
        for item, result in results:
            if isinstance(result, _NotSent):
                continue
            bar.update(1)
            if isinstance(result, Exception):
                if is_fatal(result):
                    raise result
                failures.append((item, result))
                continue
            name, row = line(item, result)
            handles[name].append(row)
    return failures


def messages_hash(messages: Iterable[dict]) -> str:
    """What was asked, hashed: roles and contents, in order."""
    text = "\x00".join(f"{m['role']}\x01{m['content']}" for m in messages)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Ask:
    """One request: `fields` say what it is about (e.g. id and answer order) and are
    written into its line; `messages` are sent exactly as they are."""

    fields: tuple[tuple[str, object], ...]
    messages: tuple[dict, ...]

    @property
    def hash(self) -> str:
        return messages_hash(self.messages)


def ask_all(
    client: ChatClient,
    asks: list[Ask],
    path: Path,
    *,
    read: Callable[[str], object | None],
    value_field: str,
    fallback: object,
    settings: dict,
    written_by: str,
    reasks: int = 0,
    concurrency: int = 8,
    desc: str = "asking",
    progress: bool = True,
) -> list[dict]:
    """Send every ask that `path` has no line for yet; return the lines of all asks, in
    order. `read(reply)` gives the value recorded under `value_field`, or None when the
    reply is unusable: such a reply is asked again up to `reasks` times, then recorded
    with `fallback`. `settings` are the decoding settings sent with every request;
    `written_by` names the command in each line, and only its lines are resumed.
    Raises ChatError, after writing every finished line, when requests failed."""
    from tqdm.auto import tqdm

    names = [name for name, _ in asks[0].fields] if asks else []

    def key(row: dict) -> tuple:
        return (*(row[name] for name in names), row["model"], row["messages_hash"])

    path.parent.mkdir(parents=True, exist_ok=True)
    done = finished(path, key=key, written_by=written_by)
    ask_key = lambda a: (*(value for _, value in a.fields), client.model, a.hash)  # noqa: E731
    todo = [a for a in asks if ask_key(a) not in done]

    def work(a: Ask) -> tuple[str, object]:
        reply = ""
        for _ in range(reasks + 1):
            reply = client.complete(list(a.messages), **settings).text
            value = read(reply)
            if value is not None:
                return reply, value
        return reply, fallback

    def line(a: Ask, result: tuple[str, object]) -> tuple[str, dict]:
        row = {
            **dict(a.fields),
            "model": client.model,
            "messages_hash": a.hash,
            "raw_reply": result[0],
            value_field: result[1],
            WRITTEN_BY: written_by,
        }
        done[ask_key(a)] = row
        return "out", row

    bar = tqdm(total=len(asks), initial=len(asks) - len(todo), desc=desc, unit="request", disable=not progress)
    failures = append_concurrently(work, todo, {"out": path}, line, concurrency=concurrency, bar=bar)
    if failures:
        first, error = failures[0]
        about = ", ".join(f"{name} {value}" for name, value in first.fields)
        raise ChatError(
            f"{len(failures)} requests failed and were not recorded (first: {about}: {error}); "
            "run the same command again to ask only for those"
        )
    return [done[ask_key(a)] for a in asks]
