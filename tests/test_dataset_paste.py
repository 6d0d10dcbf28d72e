"""Filling a once-rendered skeleton gives the same text as rendering every row; templates
that do more than paste their text in are recognised and keep the full render."""

from __future__ import annotations

import pytest

from axolotl_plug.args import PlugConfig
from axolotl_plug.dataset.layout import lay_out_answer
from axolotl_plug.dataset.render import ChatRenderer, render_answer, render_answer_in_full
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.languages import get_language
from axolotl_plug.format.templates import resolve_template
from tests.helpers.models import bundled_chat_templates, render_chat

CHAT_TEMPLATES = bundled_chat_templates()

# contents a template could treat specially: edges of whitespace, tags other templates
# parse, jinja syntax, CJK text
CONTENTS = [
    "  padded on both sides \n",
    "<think>a plan</think> the answer",
    "x <|im_end|> y",
    "{{ not jinja }} {% raw %}",
    "中文回复：\n你好。",
    "\tTab-led",
    "last",
]


def conversations():
    for system in (None, CONTENTS[0]):
        for i in range(len(CONTENTS) - 1):
            messages = [{"role": "system", "content": system}] if system else []
            messages += [{"role": "user", "content": CONTENTS[i]}, {"role": "assistant", "content": CONTENTS[i + 1]}]
            yield messages


def same_as_full_render(tokenizer, template: str) -> ChatRenderer:
    """Render every conversation both ways; the texts (or the errors) must agree."""
    renderer = ChatRenderer(tokenizer, template)
    for messages in conversations():
        try:
            expected = render_chat(tokenizer, template, messages)
        except Exception as exc:  # e.g. a template that refuses a system turn
            with pytest.raises(type(exc)):
                renderer(messages)
            continue
        assert renderer(messages) == expected, messages
    return renderer


@pytest.mark.parametrize("name", sorted(CHAT_TEMPLATES))
def test_every_bundled_chat_template_renders_the_same(tiny_tokenizer, name):
    same_as_full_render(tiny_tokenizer, CHAT_TEMPLATES[name])


def test_pasting_templates_take_the_skeleton_and_others_do_not(tiny_tokenizer):
    takes = {name: same_as_full_render(tiny_tokenizer, src).pastes for name, src in CHAT_TEMPLATES.items()}
    assert same_as_full_render(tiny_tokenizer, resolve_template("plug_tulu").read_text()).pastes
    assert all(takes[name] for name in ("chatml", "phi_3", "alpaca", "deepseek_v2"))
    # |trim on the content (llama3, gemma), reasoning parsing (qwen3), content parts
    assert not any(takes[name] for name in ("llama3", "gemma", "qwen3", "mistral_v7_tekken"))


LOOP = "{% for message in messages %}{{ '<' + message['role'] + '>' }}BODY{% endfor %}"
NOT_PASTES = {
    "filter": "{{ message['content']|trim }}",
    "filter on a join": "{{ (message.content + '!')|trim }}",
    "test on the value": "{% if '</think>' in message.content %}{{ message.content.split('</think>')[-1] }}{% endif %}",
    "length": "{{ message.content|length }}",
    "stored": "{% set text = message['content'] %}{{ text|trim }}",
    "captured": "{% set text %}{{ message.content }}{% endset %}{{ text|trim }}",
    "filter block": "{% filter upper %}{{ message.content }}{% endfilter %}",
    "macro": "{% macro show(x) %}{{ x|trim }}{% endmacro %}{{ show(message.content) }}",
    "method": "{{ message.get('content')|trim }}",
    "items": "{% for key, value in message.items() %}{{ value|trim }}{% endfor %}",
    "whole message": "{{ message|tojson }}",
    "next item": "{% if loop.nextitem %}{{ loop.nextitem['content']|trim }}{% endif %}",
    "namespace": "{% set ns = namespace(m=none) %}{% set ns.m = message %}{{ ns.m.content|trim }}",
    "conditional": "{{ message.content if message.content|length > 5 else 'short' }}",
}


@pytest.mark.parametrize("name", list(NOT_PASTES))
def test_templates_that_inspect_contents_keep_the_full_render(tiny_tokenizer, name):
    renderer = same_as_full_render(tiny_tokenizer, LOOP.replace("BODY", NOT_PASTES[name]))
    assert not renderer.pastes


def test_loop_aliases_and_slices_are_still_pastes(tiny_tokenizer):
    template = (
        "{% if messages[0]['role'] == 'system' %}{{ '[S]' ~ messages[0].content }}{% set rest = messages[1:] %}"
        "{% else %}{% set rest = messages %}{% endif %}"
        "{% for m in rest %}{% if m['content'] is string %}{{ '[' + m.role + ']' + m['content'] }}{% endif %}"
        "{% if not loop.last %}{{ '\\n' }}{% endif %}{% endfor %}{{ messages|length }}"
    )
    assert same_as_full_render(tiny_tokenizer, template).pastes


LAYOUTS = {
    "shipped": resolve_template("plug_response").read_text(),
    "joined": "{% if include_pivot_instruction %}{{ pivot_instruction_header }} {{ pivot_instruction }}\n{% endif %}"
    "{{ '## ' + target_response_header + '\\n' + target_response }}\n\n{{ pivot_response_header }}\n"
    "{% for _ in range(2) %}{{ pivot_response }}{% endfor %}",
    "inspects a value": "{% if pivot_response|length > 20 %}{{ pivot_response_header }}\n{{ pivot_response }}\n{% endif %}"
    "{{ target_response_header }}\n{{ target_response }}",
}


@pytest.mark.parametrize("name", list(LAYOUTS))
@pytest.mark.parametrize("plug", [{}, {"order": "target_first", "include_pivot_instruction": False}])
def test_answer_layouts_fill_to_the_full_render(name, plug):
    config = PlugConfig(**plug)
    target, pivot = get_language("zh"), get_language("en")
    for pivot_response in ("short", "a pivot answer long enough to pass  \n"):
        values = {
            "pivot_instruction_header": pivot.instruction_header,
            "pivot_instruction": "Say hi. ",
            "pivot_response_header": pivot.response_header,
            "pivot_response": pivot_response,
            "target_response_header": target.response_header,
            "target_response": CONTENTS[4],
        }
        extra = {
            "include_pivot_instruction": config.include_pivot_instruction,
            "order": config.order,
            "pivot": pivot,
            "target": target,
        }
        assert render_answer(LAYOUTS[name], values, extra) == render_answer_in_full(LAYOUTS[name], values, extra)
    if name != "inspects a value":  # the layout as build_conversation uses it
        content, spans = lay_out_answer(
            CONTENTS[4], "Say hi.", "Hi!", AnswerFormat.from_config(config, "zh"), (name, LAYOUTS[name])
        )
        assert content[slice(*spans["target_response"])] == CONTENTS[4]
