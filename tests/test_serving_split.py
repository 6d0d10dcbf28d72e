"""The streaming splitter: whatever the cut into deltas, the target deltas add up to
`extract(full).target`, and no header ever leaks into them."""

from __future__ import annotations

import itertools
import random

import pytest

from axolotl_plug import extract
from axolotl_plug.format.answer import AnswerFormat, Rejoiner
from axolotl_plug.serving.split import Splitter

SHORT = [  # up to 14 characters: every cut; longer: every cut into at most 4 deltas
    "A\n中文回复：\n好。",
    "中文回复：\n\n中文回复：B",
    "English response:\nHi.\n\n中文回复：\n你好。",
    "中文回复:\n好",  # an ASCII colon, as extract tolerates
    "English response:\nA\n中文回复：\n\n中文回复：B",  # the first target section is empty
    "English response: x 中文 回复 ：y",  # spaces inside the header
    "中文回复：你好\nEnglish response:\nz",  # a header after the target section ends it
    "no headers here",
    "中文回复：",  # a target header and nothing after it
    "中文回复：  \n",
]

LONG = (
    "English instruction:\nDescribe Paris in one sentence.\n\nEnglish response:\nParis is the capital of France, "
    "famous for the Eiffel Tower.\n\n中文回复：\n巴黎是法国的首都，以埃菲尔铁塔闻名。巴黎有很多博物馆。\n"
    "它也是时尚之都。中文的回答到这里结束。  "
)


def run(text: str, cuts: list[int], **settings) -> tuple[str, str, Splitter]:
    splitter = AnswerFormat.of("zh", **settings).splitter()
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    outs = [splitter.feed(piece) for piece in pieces] + [splitter.close()]
    return "".join(o.pivot for o in outs), "".join(o.target for o in outs), splitter


def expected_pivot(text: str, **settings) -> str:
    found = AnswerFormat.of("zh", **settings).locate(text)
    section = found.target
    return text if section is None else text[: section.header_start] + text[section.end :]


def all_cuts(n: int, most: int | None = None):
    """Every way to cut n characters into deltas: all of them for short texts (2^(n-1)),
    every cut into at most `most` + 1 deltas otherwise."""
    for k in range(min(n, (most if n > 14 else n - 1) + 1)):
        yield from itertools.combinations(range(1, n), k)


@pytest.mark.parametrize("text", SHORT)
def test_every_cut_of_short_outputs_gives_extracts_target(text):
    want = extract(text, "zh").target
    for cuts in all_cuts(len(text), most=3):
        pivot, target, splitter = run(text, list(cuts))
        assert target == want, (cuts, target)
        assert pivot == expected_pivot(text)
        assert splitter.status == extract(text, "zh").status


def test_random_cuts_of_long_outputs():
    rng = random.Random(0)
    want = extract(LONG, "zh").target
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(LONG)), rng.randint(1, 60)))
        assert run(LONG, cuts)[1] == want


def test_one_character_per_delta_never_leaks_a_header():
    want = extract(LONG, "zh").target
    splitter = AnswerFormat.of("zh").splitter()
    released = ""
    for char in LONG:
        released += splitter.feed(char).target
        assert want.startswith(released)  # never a character the final answer does not have
    assert released + splitter.close().target == want
    assert want.startswith("巴黎") and "回复" not in want


def test_the_header_split_across_deltas_is_held_back_only_as_long_as_needed():
    splitter = AnswerFormat.of("zh").splitter()
    assert splitter.feed("English response:\nHi.\n\n中文").target == ""
    assert splitter.feed("回复：").target == ""
    assert splitter.feed("\n你好").target == "你好"
    assert splitter.feed("，中").target == "，"  # `中` could start a header: held
    assert splitter.feed("国").target == "中国"  # it did not
    assert splitter.close().target == ""


def test_header_overrides_and_target_first_order():
    headers = {"zh": {"response": "答："}}
    text = "English response:\nfine\n\n答：好"
    for cuts in all_cuts(len(text), most=3):
        assert run(text, list(cuts), headers=headers)[1] == extract(text, "zh", headers=headers).target == "好"
    flipped = "中文回复：\n红色。\n\nEnglish response:\nRed."
    pivot, target, splitter = run(flipped, [3, 9], order="target_first")
    assert (target, splitter.status) == ("红色。", "ok")
    assert pivot == "English response:\nRed."


def test_a_stream_without_a_target_header_reports_missing_target():
    pivot, target, splitter = run("English response:\nonly English", [5, 10])
    assert (target, splitter.status) == ("", "missing_target")
    assert pivot == "English response:\nonly English"


THINKING_FORMAT = AnswerFormat.of("zh", channel="reasoning")
THINKING_OUTPUTS = [
    "<think>\nEnglish instruction:\nSay hi.\n\nEnglish response:\nHi! </thin\n</think>\n\n你好！\n第二行。 ",
    "English response:\nHi!\n</think>你好！",  # the generation prompt opened the thinking
    "<think>\nEnglish response:\nHi!\n</think>\n\n",  # closed, no answer
    "<think>\nEnglish response:\nHi!\n</thi",  # never closed
]


@pytest.mark.parametrize("text", THINKING_OUTPUTS)
def test_reasoning_channel_every_cut_gives_extracts_target_and_the_thinking_apart(text):
    expected = THINKING_FORMAT.extract(text)
    for a, b in itertools.combinations(range(1, len(text)), 2):
        splitter = THINKING_FORMAT.splitter()
        splits = [splitter.feed(piece) for piece in (text[:a], text[a:b], text[b:])] + [splitter.close()]
        target = "".join(s.target for s in splits)
        assert target == expected.target, (a, b)
        assert "</think>" not in target and "English" not in target
        assert splitter.status == expected.status
        # the thinking between the markers, as engines give reasoning_content
        assert "".join(s.pivot for s in splits) == THINKING_FORMAT.split_thinking(text)[0], (a, b)


def test_reasoning_channel_rejoins_what_a_splitting_engine_streams():
    thinking, answer = "English response:\nHi!", "你好！"
    rng = random.Random(3)
    for _ in range(50):
        rejoiner = Rejoiner(THINKING_FORMAT)
        cut_t, cut_a = rng.randint(1, len(thinking) - 1), rng.randint(1, len(answer) - 1)
        deltas = [(thinking[:cut_t], ""), (thinking[cut_t:], ""), ("", "\n\n" + answer[:cut_a]), ("", answer[cut_a:])]
        text = "".join(rejoiner.feed(r, c) for r, c in deltas) + rejoiner.close()
        assert text == f"<think>\n{thinking}\n</think>\n\n{answer}"
        assert THINKING_FORMAT.extract(text).target == answer
    # an engine without a reasoning parser: the text as it came
    rejoiner = Rejoiner(THINKING_FORMAT)
    assert rejoiner.feed("", "<think>\nx\n</think>\n\n你好") + rejoiner.close() == "<think>\nx\n</think>\n\n你好"
