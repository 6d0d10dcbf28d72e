"""The `response_template` a PLUG model folder carries, read by transformers' own parser
(`tokenizer.parse_response` and its streaming `get_response_parser`, the code vLLM's
`--reasoning-parser hf` and `transformers serve` run): for every language of the table,
both orders, header variants, empty and missing target sections, and at every cut of the
stream, `content` is `extract(answer).target` and holds no header."""

from __future__ import annotations

import copy
import json
import random

import pytest

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.languages import LANGUAGES
from axolotl_plug.format.response_template import response_template
from axolotl_plug.format.sections import OK, Extraction
from axolotl_plug.serving.metadata import answer_formats, model_response_template
from axolotl_plug.serving.settings import write_settings
from tests.helpers.commands import plug_in_process
from tests.helpers.models import build_tiny_tokenizer

EOT = "</s>"  # plug_tulu's end of turn on the tiny tokenizer
PROMPT = "<|user|>\nSay hello.\n<|assistant|>\n"
TARGETS = [code for code in LANGUAGES if code != "en"]


def tulu_model(folder, config: PlugConfig):
    """A model folder as training leaves it: the tiny tokenizer with plug_tulu, plug.json."""
    from axolotl_plug.format.templates import read_template, resolve_template

    tokenizer = build_tiny_tokenizer(folder)
    tokenizer.chat_template = read_template(str(resolve_template("plug_tulu")))
    tokenizer.save_pretrained(folder)
    write_settings(folder, config, 512)
    return folder


def spaced(header: str) -> str:
    """The header as a model may vary it: two spaces between words, the other colon."""
    stem, colon = header.rstrip(":："), header[-1:]
    other = {":": "：", "：": ":"}.get(colon, "")
    return "  ".join(stem.split()) + (" " + other if other else "")


def answers(fmt: AnswerFormat) -> list[str]:
    """PLUG answers in `fmt` (without the end of turn): canonical, varied headers, an
    empty and a missing target section, and target text that mentions the headers'
    words without being a header."""
    pivot, target = fmt.pivot, fmt.target
    body = f"Text in {target.name}, line one.\nLine two: 42 {{braces}}."
    words = f"{pivot.response_header.rstrip(':：')} and {target.response_header.rstrip(':：')}, mentioned"
    restated = f"{pivot.instruction_header}\nSay hello.\n\n"

    def layout(pivot_header, target_header, target_body, with_target=True):
        pivot_part = f"{pivot_header}\nHello!\n\n"
        target_part = f"{target_header}\n{target_body}" if with_target else ""
        if fmt.order == "pivot_first":
            return restated + pivot_part + target_part
        return restated + (target_part + "\n\n" if with_target else "") + pivot_part.rstrip()

    return [
        layout(pivot.response_header, target.response_header, body),
        layout(spaced(pivot.response_header), spaced(target.response_header), body),
        layout(pivot.response_header, target.response_header, ""),
        layout(pivot.response_header, target.response_header, body, with_target=False),
        layout(pivot.response_header, target.response_header, f"{body}\n{words}"),
    ]


def streamed(template: dict, pieces: list[str]) -> tuple[dict, str]:
    """transformers' streaming parser fed `pieces`: the final message and the content
    chunks joined."""
    from transformers.utils.chat_parsing import ResponseParser

    parser = ResponseParser(template, prefix=PROMPT)
    events = list(parser.initial_events)
    for piece in pieces:
        events += parser.feed(piece)
    message, last = parser.finalize()
    chunks = "".join(e["text"] for e in events + last if e["type"] == "region_chunk" and e["field"] == "content")
    return message, chunks


def cuts(text: str, rng: random.Random) -> list[str]:
    points = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 12))))
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]


@pytest.mark.parametrize("order", ["pivot_first", "target_first"])
def test_content_is_the_extracted_target_for_every_language_and_cut(order):
    from transformers.utils.chat_parsing import parse_response

    config = PlugConfig(target_language="zh", order=order)
    template = response_template(answer_formats(config), "<|assistant|>\n", [EOT])
    rng = random.Random(7)
    checked = 0
    for code in TARGETS:
        fmt = AnswerFormat.from_config(config, code)
        headers = [fmt.target.response_header, fmt.pivot.response_header, fmt.pivot.instruction_header]
        for answer in answers(fmt):
            expected = fmt.extract(answer).target
            for text in (answer, answer + EOT):
                whole = parse_response(PROMPT + text, template, prefix="")
                assert whole.get("content", "") == expected, (code, text)
                splits = [list(text)] + [cuts(text, rng) for _ in range(8)]
                if code in ("zh", "ko", "es"):  # every single cut point
                    splits += [[text[:k], text[k:]] for k in range(1, len(text))]
                for pieces in splits:
                    message, chunks = streamed(template, pieces)
                    assert message.get("content", "") == expected, (code, pieces)
                    assert chunks == expected, (code, pieces)  # no whitespace of the header's either
                    assert not any(h in chunks for h in headers), (code, pieces)
                    assert not any(EOT in value for value in message.values()), (code, pieces)
                    checked += 1
    assert checked > 2 * len(TARGETS) * 5 * 9


def test_a_trained_model_folder_parses_with_its_own_tokenizer(tmp_path):
    """The folder's tokenizer_config.json carries the template: a tokenizer loaded from
    it splits an answer with nothing else given, and `response-template --write` wrote it."""
    from transformers import AutoTokenizer

    folder = tulu_model(tmp_path / "model", PlugConfig(target_language="ko"))
    result = plug_in_process("response-template", str(folder), "--write")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == model_response_template(folder)
    assert printed["start_anchor"] == "<|assistant|>\n"
    assert printed["fields"]["content"]["close_pattern"] == r"\s*(?:</s>)"
    assert json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))["response_template"] == printed
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "안녕"}], tokenize=False, add_generation_prompt=True
    )
    answer = "English instruction:\nSay hi.\n\nEnglish response:\nHi!\n\n한국어 응답:\n안녕하세요!" + EOT
    assert tokenizer.parse_response(answer, prefix=prompt) == {
        "role": "assistant",
        "thinking": "English instruction:\nSay hi.\n\nEnglish response:\nHi!",
        "content": "안녕하세요!",
    }


def test_a_folder_without_plug_json_or_with_a_monolingual_model_is_refused(tmp_path):
    bare = tmp_path / "bare"
    build_tiny_tokenizer(bare)
    result = plug_in_process("response-template", str(bare))
    assert result.returncode != 0 and "plug.json not found" in result.stderr
    mono = tulu_model(tmp_path / "mono", PlugConfig(target_language="zh", mode="monolingual"))
    result = plug_in_process("response-template", str(mono), "--write")
    assert result.returncode != 0
    assert "a monolingual model answers in one language only" in result.stderr
    assert "response_template" not in json.loads((mono / "tokenizer_config.json").read_text(encoding="utf-8"))


def test_a_training_config_stands_in_for_plug_json(tmp_path):
    """`response-template MODEL_DIR --config CONFIG`: the settings come from the config's
    plug: block (here Korean, custom header), for a folder that has no plug.json."""
    folder = tulu_model(tmp_path / "model", PlugConfig(target_language="ko"))
    (folder / "plug.json").unlink()
    config = tmp_path / "train.yml"
    config.write_text(
        "plugins: [axolotl_plug.PlugPlugin]\nplug:\n  target_language: ko\n  headers:\n    ko: {response: '답변:'}\n",
        encoding="utf-8",
    )
    result = plug_in_process("response-template", str(folder), "--config", str(config))
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    expected = PlugConfig(target_language="ko", headers={"ko": {"response": "답변:"}})
    assert printed == model_response_template(folder, expected)
    assert "답변" in printed["fields"]["thinking"]["close_pattern"]
    assert "response_template" not in json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))


def test_training_saves_the_template_with_the_tokenizer(plug_trained):
    """The real `axolotl train` leaves the response_template in the saved tokenizer, and a
    tokenizer loaded from the folder splits the trained model's own format."""
    from transformers import AutoTokenizer

    _, out, _ = plug_trained
    saved = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))["response_template"]
    assert saved == model_response_template(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "你好"}], tokenize=False, add_generation_prompt=True
    )
    parsed = tokenizer.parse_response("English response:\nHello.\n\n中文回复：\n你好。", prefix=prompt)
    assert (parsed["thinking"], parsed["content"]) == ("English response:\nHello.", "你好。")


def test_a_base_tokenizers_own_template_is_replaced_and_said(tmp_path, caplog):
    import logging

    from axolotl.utils.dict import DictDefault

    from axolotl_plug.plugin import PlugPlugin

    folder = tulu_model(tmp_path / "out", PlugConfig(target_language="zh"))
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    think = {
        "version": 1,
        "start_anchor": "<|assistant|>\n",
        "fields": {"thinking": {"open": "<think>", "close": "</think>"}},
    }
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "response_template": think}), encoding="utf-8")
    cfg = DictDefault({"plug": {"target_language": "zh"}, "output_dir": str(folder), "sequence_len": 512})
    with caplog.at_level(logging.WARNING):
        PlugPlugin().post_train(cfg, None)
    written = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert written["response_template"] == model_response_template(folder)
    assert {k: v for k, v in written.items() if k != "response_template"} == config
    assert "replaced the base tokenizer's response_template" in caplog.text
    off = DictDefault({**cfg, "plug": {"target_language": "zh", "write_response_template": False}})
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "response_template": think}), encoding="utf-8")
    PlugPlugin().post_train(off, None)
    assert json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))["response_template"] == think


def test_where_the_split_differs_from_extract_is_as_documented():
    """docs/serving.md lists these: a header after the target answer stays in content, and
    an empty target section followed by another gives content from the second header."""
    from transformers.utils.chat_parsing import parse_response

    config = PlugConfig(target_language="zh")
    template = response_template(answer_formats(config), "<|assistant|>\n", [EOT])
    fmt = AnswerFormat.from_config(config, "zh")
    cases = {
        "English response:\nHi\n\n中文回复：\n你好\n\n中文回复：\n再见": "你好\n\n中文回复：\n再见",
        "English response:\nHi\n\n中文回复：\n你好\n\nEnglish response:\nBye": "你好\n\nEnglish response:\nBye",
        "English response:\nHi\n\n中文回复：\n\n中文回复：\n你好": "中文回复：\n你好",
    }
    for text, content in cases.items():
        assert parse_response(text, template, prefix="")["content"] == content
        assert fmt.extract(text).target == "你好"
    target_first = PlugConfig(target_language="zh", order="target_first")
    template = response_template(answer_formats(target_first), "<|assistant|>\n", [EOT])
    parsed = parse_response(
        "English instruction:\nSay hi.\n\n中文回复：\n你好\n\nEnglish response:\nHi", template, prefix=""
    )
    assert (parsed["content"], parsed["thinking"]) == ("你好", "Hi")


@pytest.mark.parametrize("order", ["pivot_first", "target_first"])
def test_what_a_splitting_engine_sends_rejoins_into_the_same_answer(order):
    """`AnswerFormat.rejoin` and the streaming `Rejoiner` (what `plug serve` and `generate
    --base-url` do when an engine applied the response_template): the engine's reasoning
    and content, whole or in its own stream chunks at random cuts, read back as the answer
    the model wrote: the same target, pivot and status."""
    from transformers.utils.chat_parsing import parse_response

    from axolotl_plug.format.answer import Rejoiner

    config = PlugConfig(target_language="zh", order=order)
    template = response_template(answer_formats(config), "<|assistant|>\n", [EOT])
    rng = random.Random(3)
    for code in ("zh", "ko", "es", "ar", "th"):
        fmt = AnswerFormat.from_config(config, code)
        for answer in answers(fmt)[:2] + answers(fmt)[4:]:  # the answers with a target that has text
            expected = fmt.extract(answer)
            parsed = parse_response(answer + EOT, template, prefix="")
            rejoined = fmt.extract(fmt.rejoin(parsed.get("thinking", ""), parsed["content"]))
            # target first, the engine's reasoning keeps only what followed the answer (docs/serving.md)
            assert (rejoined.target, rejoined.pivot, rejoined.status) == (
                expected.target,
                expected.pivot,
                expected.status,
            )
            for _ in range(10):
                from transformers.utils.chat_parsing import ResponseParser

                parser, events = ResponseParser(template, prefix=PROMPT), []
                for piece in cuts(answer + EOT, rng):
                    events += parser.feed(piece)
                events += parser.finalize()[1]
                joiner = Rejoiner(fmt)
                text = "".join(
                    joiner.feed(*(e["text"], "") if e["field"] == "thinking" else ("", e["text"]))
                    for e in events
                    if e["type"] == "region_chunk"
                )
                assert fmt.extract(text + joiner.close()).target == expected.target, (code, answer)


def test_transformers_serve_splits_the_trained_model_with_no_flag_and_no_proxy(plug_trained, plug_trained_served):
    """The real `transformers serve` on the folder `axolotl train` wrote, queried with the
    official openai client, streaming and not: `content` is the target answer of the same
    greedy answer generated in this process, `reasoning_content` its pivot sections."""
    import openai

    from axolotl_plug.config import read_config
    from axolotl_plug.eval.generation import load_for_generation
    from axolotl_plug.format.prompt import prompt_messages
    from axolotl_plug.io.records import load_instructions
    from tests.helpers.models import generate_answers

    config_path, model_dir, bench = plug_trained
    _, config = read_config(config_path)
    records = load_instructions(str(bench))  # four languages: the template splits at any row's header
    prompts = [prompt_messages(r["instruction"], r["lang"], config) for r in records]
    model, tokenizer = load_for_generation(model_dir)
    local = [a.text for a in generate_answers(model, tokenizer, prompts, max_new_tokens=120, batch_size=1)]
    formats = [AnswerFormat.from_config(config, r["lang"]) for r in records]
    client = openai.OpenAI(base_url=plug_trained_served, api_key="k", max_retries=0, timeout=120)
    for messages, text, fmt in zip(prompts, local, formats):
        settings = dict(model=str(model_dir), messages=messages, temperature=0.0, max_tokens=120)
        whole = client.chat.completions.create(**settings).choices[0].message
        content, reasoning = [], []
        for chunk in client.chat.completions.create(stream=True, **settings):
            for choice in chunk.choices:
                content.append(choice.delta.content or "")
                reasoning.append((choice.delta.model_extra or {}).get("reasoning_content") or "")
        expected = fmt.extract(text)
        target_at = fmt.locate(text).target
        pivot_text = (text[: target_at.header_start] if target_at else text).strip()
        assert (whole.content or "") == "".join(content).strip() == expected.target, text
        assert (whole.model_extra.get("reasoning_content") or "") == "".join(reasoning).strip() == pivot_text, text
    assert any(fmt.extract(text).target for text, fmt in zip(local, formats))  # the tiny model reaches a target


THOUGHT = "English instruction:\nSay hello.\n\nEnglish response:\nHello!"
# (template, what the model writes after the generation prompt, the thinking markers recorded)
THINKING_OUTPUTS = {
    "Qwen-Qwen3-0.6B": (f"<think>\n{THOUGHT}\n</think>\n\n你好！<|im_end|>", ["<think>", "</think>"]),
    "Qwen3.5-4B": (f"{THOUGHT}\n</think>\n\n你好！<|im_end|>", ["<think>", "</think>"]),
    "openai-gpt-oss-120b": (
        f"<|channel|>analysis<|message|>{THOUGHT}<|end|><|start|>assistant<|channel|>final<|message|>你好！<|return|>",
        ["<|channel|>analysis<|message|>", "<|end|><|start|>assistant<|channel|>final<|message|>"],
    ),
    "GLM-4.6": (f"\n<think>{THOUGHT}</think>\n你好！", ["<think>", "</think>"]),
}


@pytest.mark.parametrize("template", THINKING_OUTPUTS)
def test_a_reasoning_channel_model_folder_splits_at_its_templates_own_markers(template, tmp_path):
    """Training's end (the plugin's post_train) records the markers in plug.json and
    writes the response_template; transformers' parser then gives the pivot sections as
    thinking and extract's target as content, whole and streamed."""
    from axolotl.utils.dict import DictDefault
    from transformers import AutoTokenizer

    from axolotl_plug.plugin import PlugPlugin
    from axolotl_plug.serving.settings import read_settings
    from tests.helpers.real_templates import real_chat_template
    from tests.helpers.real_tokenizers import real_tokenizer

    output, markers = THINKING_OUTPUTS[template]
    tokenizer = copy.deepcopy(real_tokenizer("qwen2"))
    tokenizer.chat_template = real_chat_template(template).read_text(encoding="utf-8")
    tokenizer.save_pretrained(tmp_path)
    plug = {"target_language": "zh", "pivot_channel": "reasoning"}
    PlugPlugin().post_train(DictDefault({"plug": plug, "output_dir": str(tmp_path), "sequence_len": 512}), None)

    config, _ = read_settings(tmp_path)
    assert (config.pivot_channel, config.thinking_markers) == ("reasoning", markers)
    answer_format = AnswerFormat.from_config(config, "zh")
    decoded = output.removesuffix("<|im_end|>").removesuffix("<|return|>")  # as generation decodes it
    assert answer_format.extract(decoded) == Extraction("你好！", "Hello!", "Say hello.", OK)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "你好"}], tokenize=False, add_generation_prompt=True
    )
    assert tokenizer.parse_response(output, prefix=prompt) == {
        "role": "assistant",
        "thinking": THOUGHT,
        "content": "你好！",
    }
    from transformers.utils.chat_parsing import ResponseParser

    for pieces in [list(output)] + [cuts(output, random.Random(seed)) for seed in range(5)]:
        parser = ResponseParser(tokenizer.response_template, prefix=prompt)
        for piece in pieces:
            parser.feed(piece)
        message, _ = parser.finalize()
        assert (message.get("thinking"), message.get("content")) == (THOUGHT, "你好！"), pieces
