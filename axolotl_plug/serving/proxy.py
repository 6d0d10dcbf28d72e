"""`axolotl plug serve`: an OpenAI-compatible proxy in front of any engine that serves a
PLUG model (vLLM, SGLang, `transformers serve`, llama.cpp's server).

    client -> proxy adds the PLUG system prompt -> engine -> splitter -> client sees the target

Requests are rewritten (`plug_request`) and replies split (`Rewriter`) by pure code; the
server only moves bytes, streams, and stops the upstream request when a client goes away.
What it sends, keeps back and refuses: [serving.md](../../docs/serving.md#axolotl-plug-serve).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import AnswerFormat, Rejoiner
from axolotl_plug.format.languages import UnknownLanguageError, get_language
from axolotl_plug.format.prompt import prompt_messages
from axolotl_plug.serving.split import Passthrough, Split, Splitter

SYSTEM_ROLES = ("system", "developer")
MAX_BODY_BYTES = 10 * 1024 * 1024


class RequestError(ValueError):
    """A request the proxy cannot serve: answered with 400 and this message."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Options:
    target_language: str
    show_pivot: bool


# -- requests (pure) ------------------------------------------------------------------------
def plug_request(body: dict, config: PlugConfig, show_pivot: bool = False) -> tuple[dict, Options]:
    """The request to send upstream (without `x_plug`, with the PLUG system prompt) and
    the options it asked for."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise RequestError("`messages` must be a non-empty list of message objects", "messages")
    extra = body.get("x_plug") or {}
    if not isinstance(extra, dict):
        raise RequestError('`x_plug` must be an object: {"target_language": ..., "show_pivot": ...}', "x_plug")
    lang = extra.get("target_language") or config.target_language or _identify(messages, config)
    try:
        get_language(str(lang), config.header_overrides())
    except UnknownLanguageError as exc:
        raise RequestError(f"x_plug.target_language: {exc}", "x_plug.target_language") from None
    upstream = {key: value for key, value in body.items() if key != "x_plug"}
    if not any(m.get("role") in SYSTEM_ROLES for m in messages):
        upstream["messages"] = prompt_messages("", lang, config)[:-1] + messages  # the system turn training used
    return upstream, Options(lang, bool(extra.get("show_pivot", show_pivot)))


def _identify(messages: list[dict], config: PlugConfig) -> str:
    """A per-row model's target language, from the last user message's text."""
    from axolotl_plug.format.langid import identify_target

    text = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    lang = identify_target(text, config)
    if lang is None:
        raise RequestError(
            "this model was trained with per-row languages and the last user message has no "
            'letters to tell its language: send "x_plug": {"target_language": "<code>"}',
            "x_plug.target_language",
        )
    return lang


def _text(content) -> str:
    if isinstance(content, list):  # content parts
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


# -- replies (pure) -------------------------------------------------------------------------
class Rewriter:
    """Turns the engine's reply (one completion, or its stream chunk by chunk) into what
    the client sees: target text as `content`, pivot text as `reasoning_content` or nowhere.
    Each choice has its own splitter; a choice is finished once its splitter is closed."""

    def __init__(self, config: PlugConfig, options: Options, count_tokens: Callable[[str], int] | None = None):
        self.config, self.options, self.count_tokens = config, options, count_tokens
        self.choices: dict[int, Splitter | Passthrough] = {}
        self.rejoiners: dict[int, Rejoiner] = {}  # for engines that split the answer themselves

    @property
    def finished(self) -> bool:
        """Every choice seen has ended (its finish_reason came)."""
        return bool(self.choices) and all(s.status is not None for s in self.choices.values())

    def completion(self, body: dict) -> dict:
        """A whole (non-streamed) chat completion."""
        for choice in body.get("choices") or []:
            message = choice.get("message") or {}
            index = choice.get("index", 0)
            self._feed(index, message, whole=True)
            self._close(index)
            splitter = self.choices[index]
            message["content"] = splitter.target
            if self.options.show_pivot:
                message["reasoning_content"] = splitter.pivot
            choice["x_plug"] = self._report(splitter)
        return body

    def chunk(self, body: dict) -> dict | None:
        """One stream chunk; None when it carries nothing the client needs yet."""
        send = not body.get("choices")  # a usage chunk, or whatever else the engine sends
        for choice in body.get("choices") or []:
            delta = choice.get("delta") or {}
            index = choice.get("index", 0)
            got = self._feed(index, delta)
            ended = choice.get("finish_reason") is not None
            if ended:
                rest = self._close(index)
                got = Split(got.pivot + rest.pivot, got.target + rest.target)
                choice["x_plug"] = self._report(self.choices[index])
            self._delta(delta, got)
            send |= bool(delta) or ended or bool(choice.get("logprobs"))
        return body if send else None

    def finish(self, template: dict | None) -> list[dict]:
        """At `[DONE]`: a last chunk for each choice the engine never finished."""
        out = []
        for index, splitter in self.choices.items():
            if splitter.status is not None:
                continue
            delta: dict = {}
            self._delta(delta, self._close(index))
            chunk = {
                **(template or {}),
                "choices": [{"index": index, "delta": delta, "finish_reason": None, "x_plug": self._report(splitter)}],
            }
            chunk.pop("usage", None)
            out.append(chunk)
        return out

    def _feed(self, index: int, message: dict, whole: bool = False) -> Split:
        """A delta's text (or a `whole` message's) through the choice's splitter: its
        content, rejoined with the reasoning of an engine that split a PLUG answer itself."""
        answer_format = AnswerFormat.from_config(self.config, self.options.target_language)
        if index not in self.choices:
            self.choices[index], self.rejoiners[index] = answer_format.splitter(), Rejoiner(answer_format)
        reasoning = _pop_reasoning(message) if self.config.mode == "plug" else ""
        content = message.pop("content", None) or ""
        if whole:
            text = answer_format.rejoin(reasoning, content) if reasoning else content
        else:
            text = self.rejoiners[index].feed(reasoning, content)
        return self.choices[index].feed(text)

    def _close(self, index: int) -> Split:
        splitter = self.choices[index]
        last = splitter.feed(self.rejoiners[index].close())
        rest = splitter.close()
        return Split(last.pivot + rest.pivot, last.target + rest.target)

    def _delta(self, delta: dict, got: Split) -> None:
        if got.target:
            delta["content"] = got.target
        if got.pivot and self.options.show_pivot:
            delta["reasoning_content"] = got.pivot

    def _report(self, splitter: Splitter | Passthrough) -> dict:
        count = self.count_tokens
        return {
            "status": splitter.status,
            "target_language": self.options.target_language,
            "pivot_tokens": count(splitter.pivot) if count else None,
            "target_tokens": count(splitter.target) if count else None,
        }


def _pop_reasoning(message: dict) -> str:
    """Take the engine's own reasoning fields out of a message or delta (the client gets
    ours, or none): an engine that read the model folder's response_template split the
    answer already, and the rejoined text goes through the same splitter."""
    from axolotl_plug.io.client import reasoning_of

    reasoning = reasoning_of(message)
    message.pop("reasoning_content", None)
    message.pop("reasoning", None)
    return reasoning


# -- the server -----------------------------------------------------------------------------
def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None, code=None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _sse(data: dict) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode("utf-8") + b"\n\n"


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The `data` of each server-sent event of a response."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if line:
            if line.startswith("data:"):
                lines.append(line[5:].removeprefix(" "))
            continue
        if lines:
            yield "\n".join(lines)
            lines = []
    if lines:
        yield "\n".join(lines)


async def _cancel_on_hang_up(receive, scope: anyio.CancelScope) -> None:
    """Cancel `scope` when the client goes away (its request body was read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


class EventStream:
    """An SSE response that watches for the client going away the whole time (also while
    nothing is sent) and then cancels the stream, whose `finally` closes the upstream."""

    def __init__(self, events: AsyncIterator[bytes]):
        self.events = events

    async def __call__(self, scope, receive, send) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_on_hang_up, receive, group.cancel_scope)
            try:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"text/event-stream; charset=utf-8"),
                            (b"cache-control", b"no-cache"),
                            (b"x-accel-buffering", b"no"),
                        ],
                    }
                )
                async for event in self.events:
                    await send({"type": "http.response.body", "body": event, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:
                pass  # the client went away
            finally:
                with anyio.CancelScope(shield=True):
                    await self.events.aclose()
                group.cancel_scope.cancel()


async def _events(response: httpx.Response, rewriter: Rewriter) -> AsyncIterator[bytes]:
    """The client's stream: the engine's events rewritten, and how the stream ends."""
    last = None
    try:
        async for data in _sse_data(response):
            if data.strip() == "[DONE]":
                for chunk in rewriter.finish(last):
                    yield _sse(chunk)
                yield b"data: [DONE]\n\n"
                return
            try:
                chunk = json.loads(data)
            except ValueError:
                yield _sse(error_body(f"upstream sent an event that is not JSON: {data[:200]!r}", "upstream_error"))
                return
            if isinstance(chunk, dict) and chunk.get("error"):  # the engine's own error event
                yield _sse(chunk)
                return
            last = chunk  # id, model, created: for the last chunks `finish` may add
            out = rewriter.chunk(chunk)
            if out is not None:
                yield _sse(out)
        if rewriter.finished:
            yield b"data: [DONE]\n\n"  # every answer finished (`transformers serve` sends no [DONE])
            return
        yield _sse(error_body("upstream stream ended without [DONE] before the answer finished", "upstream_error"))
    except httpx.HTTPError as exc:
        yield _sse(error_body(f"upstream stream broke off: {type(exc).__name__}: {exc}", "upstream_error"))
    finally:
        await response.aclose()


async def _unless_disconnected(request: Request, work):
    """Await `work`, or cancel it (closing its engine request) when the client goes away
    first; None then."""
    result = error = None
    async with anyio.create_task_group() as group:

        async def run() -> None:
            nonlocal result, error
            try:
                result = await work
            except Exception as exc:  # raised as itself below, not inside an exception group
                error = exc
            group.cancel_scope.cancel()

        group.start_soon(_cancel_on_hang_up, request.receive, group.cancel_scope)
        group.start_soon(run)
    if error is not None:
        raise error
    return result


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to be over `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    upstream: str,
    config: PlugConfig,
    *,
    show_pivot: bool = False,
    count_tokens: Callable[[str], int] | None = None,
    timeout: float = 600.0,
    max_body_bytes: int = MAX_BODY_BYTES,
    api_key: str | None = None,
    upstream_api_key: str | None = None,
) -> Starlette:
    """The proxy as an ASGI app. `upstream` is the engine's OpenAI base URL (…/v1)."""
    base = upstream.rstrip("/")
    base = base if base.endswith("/v1") else base + "/v1"
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
    )
    expected = f"Bearer {api_key}".encode() if api_key else None

    def forwarded(request: Request) -> dict:
        if expected is not None:  # the client's key is the proxy's: never sent on
            return {"authorization": f"Bearer {upstream_api_key}"} if upstream_api_key else {}
        auth = request.headers.get("authorization")
        return {"authorization": auth} if auth else {}

    def refused(request: Request) -> JSONResponse | None:
        """401 unless the request carries the proxy's key (when it has one)."""
        if expected is None:
            return None
        given = request.headers.get("authorization", "").encode("utf-8")
        if hmac.compare_digest(given, expected):
            return None
        return JSONResponse(
            error_body("a valid API key is required: Authorization: Bearer <key>", code="invalid_api_key"), 401
        )

    def passthrough(response: httpx.Response, content: bytes) -> Response:
        return Response(
            content,
            status_code=response.status_code,
            media_type=response.headers.get("content-type", "application/json"),
        )

    def unreachable(exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(f"upstream {base} failed: {type(exc).__name__}: {exc}", "upstream_error"), 502)

    async def models(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        try:
            response = await client.get(f"{base}/models", headers=forwarded(request))
        except httpx.HTTPError as exc:
            return unreachable(exc)
        return passthrough(response, response.content)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "upstream": base})

    async def completions(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        raw = await _read_body(request, max_body_bytes)
        if raw is None:
            return JSONResponse(
                error_body(f"the request body is larger than {max_body_bytes} bytes", code="request_too_large"), 413
            )
        try:
            body = json.loads(raw)
        except ValueError:
            return JSONResponse(error_body("the request body is not JSON"), 400)
        try:
            body, options = plug_request(body, config, show_pivot)
        except RequestError as exc:
            return JSONResponse(error_body(str(exc), param=exc.param), 400)
        rewriter = Rewriter(config, options, count_tokens)
        url = f"{base}/chat/completions"
        if not body.get("stream"):
            try:
                response = await _unless_disconnected(request, client.post(url, json=body, headers=forwarded(request)))
            except httpx.HTTPError as exc:
                return unreachable(exc)
            if response is None:  # the client went away; the engine request is closed
                return Response(status_code=499)
            if response.status_code != 200:
                return passthrough(response, response.content)
            try:
                reply = response.json()
            except ValueError:
                return JSONResponse(error_body("upstream reply is not JSON", "upstream_error"), 502)
            return JSONResponse(rewriter.completion(reply))
        try:
            response = await client.send(
                client.build_request("POST", url, json=body, headers=forwarded(request)), stream=True
            )
        except httpx.HTTPError as exc:
            return unreachable(exc)
        if response.status_code != 200:
            content = await response.aread()
            await response.aclose()
            return passthrough(response, content)
        return EventStream(_events(response, rewriter))

    @asynccontextmanager
    async def lifespan(app):
        yield
        await client.aclose()

    routes = [
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def token_counter(tokenizer_dir: str) -> Callable[[str], int]:
    """Counts tokens with the model's tokenizer."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0
