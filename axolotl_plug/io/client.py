"""One client for OpenAI-compatible chat-completions endpoints (OpenAI, vLLM, SGLang,
`transformers serve`, a local gateway), used by the judge and the translator.

It is the `openai` SDK's client, so the retry policy lives in one place: a request
that fails in transport (connection error, timeout, HTTP 408, 409, 429 or 5xx) is
retried up to `max_retries` times with exponential backoff that honours the server's
`Retry-After`. Nothing else in the package retries a request. A caller that asks
again because a reply was unusable (no verdict, lost markers) counts those re-asks
apart (`reasks`): one call costs at most (reasks + 1) * (max_retries + 1) requests.

The API key is read from an environment variable, sent only in the Authorization
header and never logged or written.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any


class ChatError(RuntimeError):
    """A request that failed for good: after the transport retries, or refused
    (`status`: the HTTP status of a refusal, None for a transport failure)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str | None  # "stop", "length" (cut by max_tokens), ...
    reasoning: str = ""  # what the engine split off as reasoning (`reasoning_content`, or vLLM's `reasoning`)


def reasoning_of(message) -> str:
    """The reasoning an engine split off a reply (an SDK message or a plain dict):
    `reasoning_content` (transformers serve, SGLang, vLLM before 0.10), else `reasoning`."""
    get = message.get if isinstance(message, dict) else lambda key: getattr(message, key, None)
    value = get("reasoning_content") or get("reasoning")
    return value if isinstance(value, str) else ""


@dataclass
class ChatClient:
    model: str
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    max_retries: int = 3
    _sdk: Any = field(init=False, repr=False)

    def __post_init__(self):
        from openai import OpenAI

        _build_response_types()
        # a local server needs no key, but the SDK insists on one
        key = os.environ.get(self.api_key_env) or "no-key"
        self._sdk = OpenAI(base_url=self.base_url, api_key=key, timeout=self.timeout, max_retries=self.max_retries)

    def __repr__(self) -> str:  # never show the key in logs or tracebacks
        return f"ChatClient(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    def complete(
        self, messages: list[dict[str, str]], extra_body: dict | None = None, **settings: float | int | None
    ) -> Reply:
        """The assistant's reply to `messages`, sent with the decoding `settings` given
        (temperature, top_p, max_tokens, n; None leaves one to the server). `extra_body`
        is sent as it is, a None value as JSON null. Raises ChatError when the request
        failed for good; a refusal names the settings."""
        import openai

        settings = {k: v for k, v in settings.items() if v is not None}
        try:
            response = self._sdk.chat.completions.create(
                model=self.model, messages=messages, extra_body=extra_body, **settings
            )
        except openai.APIStatusError as exc:
            body = _body(exc)
            refused = [f"{k}={v}" for k, v in settings.items() if _names(exc, k)]
            if exc.status_code in (400, 422) and refused:
                raise ChatError(
                    f"{self.base_url} refused the setting {', '.join(refused)}: HTTP {exc.status_code}: {body}",
                    exc.status_code,
                ) from None
            sent = f" (sent {', '.join(f'{k}={v}' for k, v in settings.items())})" if settings else ""
            raise ChatError(f"HTTP {exc.status_code} from {self.base_url}{sent}: {body}", exc.status_code) from None
        except openai.APIConnectionError as exc:  # timeouts too
            attempts = self.max_retries + 1
            raise ChatError(
                f"{self.base_url}: gave up after {attempts} attempts ({type(exc).__name__}: {exc})"
            ) from None
        if not response.choices:
            raise ChatError(f"{self.base_url}: a reply with no choices")
        choice = response.choices[0]
        return Reply(choice.message.content or "", choice.finish_reason, reasoning_of(choice.message))

    def close(self) -> None:
        self._sdk.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@functools.cache
def _build_response_types() -> None:
    """openai's response types are pydantic models whose schemas are built on first use;
    threads that use one first at the same moment race (a run under load failed with
    "'ChatCompletionMessage' has no attribute '__pydantic_core_schema__'"). Build them
    here, once, in the thread that makes the client, before the runner's threads start."""
    from openai.types.chat import ChatCompletion

    message = {"role": "assistant", "content": ""}
    ChatCompletion.model_validate(
        {
            "id": "-",
            "object": "chat.completion",
            "created": 0,
            "model": "-",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        }
    )


def _names(exc, key: str) -> bool:
    """Does the endpoint's error name the parameter `key`? OpenAI-style errors say so in
    `error.param`; otherwise the key must stand as a word of the error's message."""
    import re

    error = exc.body.get("error", exc.body) if isinstance(exc.body, dict) else None
    if isinstance(error, dict) and error.get("param"):
        return error["param"] == key
    message = error.get("message") if isinstance(error, dict) else None
    return bool(re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", str(message or _body(exc))))


def _body(exc) -> str:
    text = getattr(exc.response, "text", "") or str(exc)
    return text[:300]
