"""`axolotl plug serve`: the real command, in front of a scripted loopback engine (one
character per SSE chunk, failures in the middle of a stream) and in front of a real
`transformers serve` process serving a PLUG-trained model."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

import httpx
import openai
import pytest

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import extract
from axolotl_plug.serving.proxy import RequestError, Rewriter, plug_request
from axolotl_plug.serving.settings import write_settings
from tests.helpers.commands import plug_in_process
from tests.helpers.engine import FakeEngine
from tests.helpers.servers import free_port, plug_serve

ANSWER = (
    "English instruction:\nWrite a greeting.\n\nEnglish response:\nHello, welcome!\n\n"
    "中文回复：\n你好，欢迎！\n我们很高兴见到你。"
)
SYSTEM = "Please interpret the instruction in English, and then respond both in English and in Chinese."


@pytest.fixture(scope="module")
def model_folder(tiny_model_dir, tmp_path_factory) -> Path:
    """What training leaves: plug.json and the tokenizer (the weights do not matter here)."""
    folder = tmp_path_factory.mktemp("served-model")
    for name in os.listdir(tiny_model_dir):
        if name.startswith(("tokenizer", "special_tokens")):
            shutil.copy(tiny_model_dir / name, folder / name)
    write_settings(folder, PlugConfig(target_language="zh"), 512)
    return folder


@pytest.fixture(scope="module")
def scripted(model_folder):
    with FakeEngine() as engine, plug_serve(engine.url, "--model-dir", str(model_folder)) as url:
        yield engine, openai.OpenAI(base_url=url, api_key="sk-test", max_retries=0, timeout=30), url


def stream(client, content: str, **extra):
    """(content deltas, reasoning deltas, last chunk of the choice, usage) of one streamed answer."""
    contents, reasoning, last, usage = [], [], None, None
    chunks = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": content}],
        stream=True,
        stream_options={"include_usage": True},
        **extra,
    )
    for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            contents.append(choice.delta.content or "")
            reasoning.append((choice.delta.model_extra or {}).get("reasoning_content") or "")
            last = choice if choice.model_extra.get("x_plug") else last
    return contents, reasoning, last, usage


def test_one_character_per_chunk_streams_only_the_target(scripted, tiny_tokenizer):
    engine, client, _ = scripted
    contents, reasoning, last, usage = stream(client, "chars:" + ANSWER)
    assert "".join(contents) == extract(ANSWER, "zh").target == "你好，欢迎！\n我们很高兴见到你。"
    assert not any("回复" in piece for piece in contents)  # the header never leaks, not even in part
    assert "".join(reasoning) == ""  # the pivot is dropped unless asked for
    count = lambda text: len(tiny_tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    assert last.model_extra["x_plug"] == {
        "status": "ok",
        "target_language": "zh",
        "pivot_tokens": count(ANSWER[: ANSWER.index("中文回复")]),
        "target_tokens": count("你好，欢迎！\n我们很高兴见到你。"),
    }
    assert usage.completion_tokens == len(ANSWER)  # the engine's usage, passed through
    sent = engine.requests[-1]["body"]
    assert sent["messages"][0] == {"role": "system", "content": SYSTEM}  # the system prompt training used
    assert engine.requests[-1]["headers"]["authorization"] == "Bearer sk-test"


def test_pivot_as_reasoning_content_on_request(scripted):
    engine, client, _ = scripted
    contents, reasoning, _, _ = stream(client, "chars:" + ANSWER, extra_body={"x_plug": {"show_pivot": True}})
    assert "".join(reasoning) == ANSWER[: ANSWER.index("中文回复")]
    assert "".join(contents) == extract(ANSWER, "zh").target
    assert "x_plug" not in engine.requests[-1]["body"]  # the engine never sees our field


def test_non_streaming(scripted):
    engine, client, _ = scripted
    reply = client.chat.completions.create(
        model="m", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "chars:" + ANSWER}]
    )
    assert reply.choices[0].message.content == extract(ANSWER, "zh").target
    assert reply.choices[0].model_extra["x_plug"]["status"] == "ok"
    assert reply.usage.completion_tokens == len(ANSWER)
    assert engine.requests[-1]["body"]["messages"][0] == {"role": "system", "content": "Be brief."}  # kept as sent
    missing = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "chars:English response:\nHi"}]
    )
    assert missing.choices[0].message.content == ""
    assert missing.choices[0].model_extra["x_plug"]["status"] == "missing_target"


@pytest.mark.parametrize(
    "how, message",
    [
        ("break", "upstream stream broke off"),
        ("cut", "upstream stream ended without [DONE] before the answer finished"),
        ("error", "scripted engine failure"),
    ],
)
def test_failure_mid_stream_is_an_error_event_not_an_end(scripted, how, message):
    _, _, url = scripted
    with httpx.stream(
        "POST",
        f"{url}/chat/completions",
        timeout=30,
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": f"{how}:{ANSWER}"}]},
    ) as r:
        events = [line for line in r.iter_lines() if line.startswith("data:")]
    assert message in events[-1] and '"error"' in events[-1]
    assert "data: [DONE]" not in events  # never a normal end
    _, client, _ = scripted
    with pytest.raises(openai.APIError, match=re.escape(message)):
        stream(client, f"{how}:{ANSWER}")


def test_a_finished_answer_without_done_ends_normally(scripted):
    """`transformers serve` ends its streams after the finish_reason, without [DONE]."""
    _, client, _ = scripted
    contents, _, last, _ = stream(client, "finished:" + ANSWER)
    assert "".join(contents) == extract(ANSWER, "zh").target and last.model_extra["x_plug"]["status"] == "ok"


def test_upstream_status_and_models_pass_through(scripted):
    _, client, _ = scripted
    with pytest.raises(openai.InternalServerError, match="scripted 503"):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "status:503"}])
    with pytest.raises(openai.BadRequestError, match="scripted 400"):
        stream(client, "status:400")
    assert [m.id for m in client.models.list()] == ["scripted"]
    with pytest.raises(openai.BadRequestError, match="unknown language code .xx."):
        stream(client, "chars:x", extra_body={"x_plug": {"target_language": "xx"}})


@pytest.mark.parametrize("streamed", [True, False])
def test_closing_the_client_closes_the_upstream_request(scripted, streamed):
    """Streamed, even while the proxy holds back pivot text and sends nothing; or not."""
    engine, _, url = scripted
    before = len(engine.hung_up)
    body = json.dumps(
        {"model": "m", "stream": streamed, "messages": [{"role": "user", "content": "slow:" + "a" * 200}]}
    )
    port = int(url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port)) as client:  # a client that sends, waits, hangs up
        client.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
        )
        time.sleep(0.5)
    closed = time.monotonic()
    deadline = closed + 5
    while len(engine.hung_up) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(engine.hung_up) == before + 1 and engine.hung_up[-1] - closed < 1.0  # not after 200 × 50 ms


def test_unreachable_upstream_is_a_502(model_folder):
    with plug_serve(f"http://127.0.0.1:{free_port()}/v1", "--model-dir", str(model_folder)) as url:
        client = openai.OpenAI(base_url=url, api_key="k", max_retries=0)
        with pytest.raises(openai.APIStatusError, match="ConnectError") as caught:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 502


def test_serve_needs_one_source_of_settings(tmp_path):
    neither = plug_in_process("serve", "--upstream", "http://127.0.0.1:1/v1")
    assert neither.returncode == 2 and "give exactly one of --model-dir and --config" in neither.stderr
    no_json = plug_in_process("serve", "--upstream", "http://127.0.0.1:1/v1", "--model-dir", str(tmp_path))
    assert no_json.returncode == 2 and "plug.json not found" in no_json.stderr


def test_requests_get_the_system_prompt_and_language():
    config = PlugConfig(target_language="zh")
    sent, options = plug_request(
        {"model": "m", "messages": [{"role": "user", "content": "你好"}], "x_plug": {}}, config
    )
    assert sent == {
        "model": "m",
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "你好"}],
    }
    assert options.target_language == "zh" and not options.show_pivot
    per_row = PlugConfig()  # trained on rows of several languages
    _, options = plug_request({"messages": [{"role": "user", "content": "안녕하세요, 오늘 날씨가 어때요?"}]}, per_row)
    assert options.target_language == "ko"  # identified from the user's message
    _, options = plug_request(
        {"messages": [{"role": "user", "content": "hi"}], "x_plug": {"target_language": "es"}}, per_row
    )
    assert options.target_language == "es"
    with pytest.raises(RequestError, match="no letters"):
        plug_request({"messages": [{"role": "user", "content": "12345"}]}, per_row)
    with pytest.raises(RequestError, match="`messages`"):
        plug_request({"messages": "hi"}, config)
    assert plug_request({"messages": [{"role": "user", "content": "q"}]}, config, show_pivot=True)[
        1
    ].show_pivot  # --show-pivot
    hidden = {"messages": [{"role": "user", "content": "q"}], "x_plug": {"show_pivot": False}}
    assert not plug_request(hidden, config, show_pivot=True)[1].show_pivot  # a request may still decline it
    none = PlugConfig(target_language="zh", system_prompt="none")
    assert plug_request({"messages": [{"role": "user", "content": "q"}]}, none)[0]["messages"] == [
        {"role": "user", "content": "q"}
    ]


def test_monolingual_model_answers_pass_through_whole():
    config = PlugConfig(target_language="zh", mode="monolingual")
    _, options = plug_request({"messages": [{"role": "user", "content": "q"}]}, config)
    rewriter = Rewriter(config, options)
    pieces = [
        rewriter.chunk({"choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]}) for c in " 你好 "
    ]
    last = rewriter.chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    text = "".join(p["choices"][0]["delta"].get("content", "") for p in pieces + [last] if p)
    assert text == "你好" and last["choices"][0]["x_plug"]["status"] == "ok"


def test_behind_transformers_serve_the_streamed_answer_is_the_extracted_target(plug_trained, plug_trained_served):
    """A PLUG-trained model on a real engine. `transformers serve` applies the model
    folder's response_template itself (content: the target answer, reasoning_content: the
    pivot sections); `plug serve` in front of it gives its users the same target answer,
    streamed or not, with the same status, and never the engine's reasoning."""
    from axolotl_plug.config import read_config
    from axolotl_plug.format.prompt import prompt_messages
    from axolotl_plug.io.records import load_instructions

    config_path, model_dir, bench = plug_trained
    _, config = read_config(config_path)
    records = load_instructions(str(bench))
    settings = dict(model=str(model_dir), temperature=0.0, max_tokens=200)
    with plug_serve(plug_trained_served, "--model-dir", str(model_dir)) as url:
        engine = openai.OpenAI(base_url=plug_trained_served, api_key="k", max_retries=0, timeout=120)
        proxy = openai.OpenAI(base_url=url, api_key="k", max_retries=0, timeout=120)
        targets = []
        for record in records:
            message = (
                engine.chat.completions.create(
                    messages=prompt_messages(record["instruction"], "zh", config), **settings
                )
                .choices[0]
                .message
            )
            reasoning = message.model_extra.get("reasoning_content") or ""
            assert not extract(message.content or "", "zh").pivot  # the engine split the answer itself
            user = [{"role": "user", "content": record["instruction"]}]  # the proxy adds the system prompt
            streamed, last = [], None
            for chunk in proxy.chat.completions.create(messages=user, stream=True, **settings):
                for choice in chunk.choices:
                    streamed.append(choice.delta.content or "")
                    assert not (choice.delta.model_extra or {}).get("reasoning_content")  # no --show-pivot
                    last = choice if choice.model_extra.get("x_plug") else last
            whole = proxy.chat.completions.create(messages=user, **settings).choices[0]
            assert "".join(streamed) == (message.content or "") == whole.message.content
            status = last.model_extra["x_plug"]["status"]
            assert status == whole.model_extra["x_plug"]["status"]
            if message.content:
                assert status == ("ok" if "English response" in reasoning else "missing_pivot")
            else:
                assert status == "missing_target"
            targets.append(message.content)
    assert any(targets)  # the tiny trained model does reach a target answer


def test_show_pivot_key_and_body_limits_through_the_real_command(model_folder, monkeypatch):
    """`plug serve --show-pivot --max-body-bytes N` with PLUG_SERVE_API_KEY and
    PLUG_UPSTREAM_API_KEY set: the pivot is reasoning_content by default, clients need the
    proxy's key, the engine gets its own key, and a body too large or not JSON never
    reaches the engine."""
    monkeypatch.setenv("PLUG_SERVE_API_KEY", "proxy-key-1")
    monkeypatch.setenv("PLUG_UPSTREAM_API_KEY", "engine-key-2")
    with (
        FakeEngine() as engine,
        plug_serve(engine.url, "--model-dir", str(model_folder), "--show-pivot", "--max-body-bytes", "4000") as url,
    ):
        client = openai.OpenAI(base_url=url, api_key="proxy-key-1", max_retries=0, timeout=30)
        contents, reasoning, last, _ = stream(client, "chars:" + ANSWER)
        assert "".join(contents) == extract(ANSWER, "zh").target
        assert "".join(reasoning) == ANSWER[: ANSWER.index("中文回复")]  # shown without asking
        assert engine.requests[-1]["headers"]["authorization"] == "Bearer engine-key-2"  # never the client's key
        sent = len(engine.requests)

        wrong = openai.OpenAI(base_url=url, api_key="proxy-key-X", max_retries=0, timeout=30)
        with pytest.raises(openai.AuthenticationError) as refused:
            wrong.chat.completions.create(model="m", messages=[{"role": "user", "content": "chars:hi"}])
        assert refused.value.body["code"] == "invalid_api_key"
        assert httpx.get(f"{url}/models").status_code == 401  # no key at all

        headers = {"authorization": "Bearer proxy-key-1", "content-type": "application/json"}
        big = json.dumps({"model": "m", "messages": [{"role": "user", "content": "chars:" + "x" * 5000}]})
        response = httpx.post(f"{url}/chat/completions", content=big, headers=headers)
        assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
        response = httpx.post(f"{url}/chat/completions", content=b'{"model": "m", "messages": [', headers=headers)
        assert response.status_code == 400
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}  # OpenAI's error shape
        assert len(engine.requests) == sent  # neither reached the engine


@pytest.mark.parametrize("order", ["pivot_first", "target_first"])
def test_an_engine_that_split_the_answer_itself_is_read_as_one_that_did_not(order):
    """vLLM (`--reasoning-parser hf`), SGLang and `transformers serve` split a PLUG answer
    with the model folder's response_template: reasoning first (or, target first, after
    the content), the headers consumed. The proxy gives the same target answer and status
    as for the whole text, and never forwards the engine's reasoning."""
    config = PlugConfig(target_language="zh", order=order)
    answer = {
        "pivot_first": [
            ("reasoning_content", "English response:\nHi!"),
            ("content", "\n你好！"),
            ("content", "\n再见。"),
        ],
        "target_first": [("content", "你好！"), ("content", "\n再见。"), ("reasoning", "Hi!")],
    }[order]
    _, options = plug_request({"messages": [{"role": "user", "content": "q"}]}, config)
    rewriter = Rewriter(config, options)
    sent = [
        rewriter.chunk({"choices": [{"index": 0, "delta": {key: text}, "finish_reason": None}]}) for key, text in answer
    ]
    sent.append(rewriter.chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    deltas = [p["choices"][0]["delta"] for p in sent if p]
    assert "".join(d.get("content", "") for d in deltas) == "你好！\n再见。"
    assert not any("reasoning_content" in d or "reasoning" in d for d in deltas)
    assert sent[-1]["choices"][0]["x_plug"]["status"] == "ok"
    whole = {"choices": [{"index": 0, "message": {"role": "assistant"}, "finish_reason": "stop"}]}
    for key, text in answer:
        message = whole["choices"][0]["message"]
        message[key] = message.get(key, "") + text
    done = Rewriter(config, options).completion(whole)["choices"][0]
    assert done["message"] == {"role": "assistant", "content": "你好！\n再见。"}
    assert done["x_plug"]["status"] == "ok"


@pytest.mark.parametrize("split", [False, True])
def test_a_reasoning_channel_model_streams_only_its_answer_split_by_the_engine_or_not(split):
    """`pivot_channel: reasoning`: the engine streams the thinking and the answer as one
    text (no reasoning parser) or split (`--reasoning-parser qwen3`); either way clients get
    the answer after the closing marker, and nothing of the thinking."""
    config = PlugConfig(target_language="zh", pivot_channel="reasoning")
    thinking, answer = "English response:\nHi!", "你好！\n再见。"
    if split:
        deltas = [("reasoning_content", c) for c in thinking] + [("content", c) for c in "\n\n" + answer]
    else:
        deltas = [("content", c) for c in f"<think>\n{thinking}\n</think>\n\n{answer}"]
    _, options = plug_request({"messages": [{"role": "user", "content": "q"}]}, config)
    rewriter = Rewriter(config, options)
    sent = [rewriter.chunk({"choices": [{"index": 0, "delta": {k: t}, "finish_reason": None}]}) for k, t in deltas]
    sent.append(rewriter.chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    out = [p["choices"][0]["delta"] for p in sent if p]
    assert "".join(d.get("content", "") for d in out) == answer
    assert not any("reasoning_content" in d or "think>" in d.get("content", "") for d in out)
    assert sent[-1]["choices"][0]["x_plug"]["status"] == "ok"

    # asked for, the thinking comes as reasoning_content, without its markers, as engines send it
    body = {"messages": [{"role": "user", "content": "q"}], "x_plug": {"show_pivot": True}}
    rewriter = Rewriter(config, plug_request(body, config)[1])
    sent = [rewriter.chunk({"choices": [{"index": 0, "delta": {k: t}, "finish_reason": None}]}) for k, t in deltas]
    sent.append(rewriter.chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    out = [p["choices"][0]["delta"] for p in sent if p]
    assert "".join(d.get("reasoning_content", "") for d in out) == thinking
    assert "".join(d.get("content", "") for d in out) == answer
