"""The model folder carries its own split: the `response_template` (format/response_template.py)
of a trained model, derived from its plug.json and its chat template, and written into
its tokenizer_config.json, where transformers, vLLM and SGLang read it
([serving.md](../../docs/serving.md#the-model-folder-carries-its-own-split)).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.languages import LANGUAGES
from axolotl_plug.format.response_template import response_template
from axolotl_plug.io.records import write_whole

TOKENIZER_CONFIG = "tokenizer_config.json"
# the files `save_pretrained` writes for a tokenizer (fast, slow, and its chat templates)
TOKENIZER_FILES = (
    TOKENIZER_CONFIG,
    "tokenizer.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
)
KEY = "response_template"
_SENTINEL = "\u2063PLUG-ANSWER\u2063"  # text no template writes itself


def answer_formats(config: PlugConfig) -> list[AnswerFormat]:
    """Every format a model trained with `config` may answer in: rows may name their own
    target language, so every language of the table and of `plug.headers` but the pivot,
    the configured target first."""
    codes = [config.target_language, *LANGUAGES, *config.header_overrides()]
    codes = [c for c in dict.fromkeys(codes) if c and c != config.pivot_language]
    return [AnswerFormat.from_config(config, code) for code in codes]


def chat_markers(tokenizer) -> tuple[str, list[str]]:
    """(generation prompt, end-of-turn texts) of the tokenizer's chat template: what
    `add_generation_prompt` adds to a conversation, and what the template writes after an
    assistant message."""
    user = [{"role": "user", "content": "Hello."}]
    bare = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=False)
    prompted = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    if not prompted.startswith(bare):
        raise ValueError("the chat template renders a conversation differently with add_generation_prompt")
    answered = tokenizer.apply_chat_template(
        [*user, {"role": "assistant", "content": _SENTINEL}], tokenize=False, add_generation_prompt=False
    )
    tail = answered[answered.rindex(_SENTINEL) + len(_SENTINEL) :].strip()
    return prompted[len(bare) :], [tail] if tail else []


def thinking_markers(tokenizer, name: str) -> tuple[str, str]:
    """The thinking markers of a tokenizer's chat template (dataset/thinking.py), `name`
    saying whose in an error; ThinkingTemplateError when it has no thinking channel."""
    from axolotl_plug.dataset.thinking import probe

    def render(messages, add_generation_prompt):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    return probe(render, name).markers


def model_response_template(model_dir: str | Path, settings: PlugConfig | None = None, tokenizer=None) -> dict:
    """The `response_template` of a trained model folder: its PLUG settings (`settings`,
    else plug.json in it or one level up), its tokenizer (`tokenizer` where the caller has
    loaded it already) and chat template."""
    from transformers import AutoTokenizer

    from axolotl_plug.serving.settings import read_settings

    if settings is None:
        settings, _ = read_settings(model_dir)
    if not (Path(model_dir) / TOKENIZER_CONFIG).is_file():
        raise FileNotFoundError(f"{Path(model_dir) / TOKENIZER_CONFIG} not found: the folder holds no saved tokenizer")
    if tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    generation_prompt, end_of_turn = chat_markers(tokenizer)
    return response_template(answer_formats(settings), generation_prompt, end_of_turn)


def write_response_template(model_dir: str | Path, template: dict) -> dict | None:
    """Set `response_template` in the folder's tokenizer_config.json, keeping every other
    key as it is; returns the one it replaced (None where there was none)."""
    path = Path(model_dir) / TOKENIZER_CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: the folder holds no saved tokenizer") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    previous = data.get(KEY)
    data[KEY] = template
    write_whole(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")  # a crash leaves the old file whole
    return previous


def restore_merged_tokenizer(output_dir: str | Path) -> bool:
    """Give `axolotl merge-lora`'s OUTPUT_DIR/merged the tokenizer the model was trained
    with, as training saved it in OUTPUT_DIR: its chat template (plug.chat_template) and
    its response_template. merge-lora's default path copies the base model's tokenizer
    files, and its legacy path saves a tokenizer without the response_template. Returns
    whether it did (False when there is no merged folder or no saved tokenizer)."""
    output_dir = Path(output_dir)
    merged = output_dir / "merged"
    if not (merged / TOKENIZER_CONFIG).is_file() or not (output_dir / TOKENIZER_CONFIG).is_file():
        return False
    for name in TOKENIZER_FILES:
        trained, there = output_dir / name, merged / name
        if trained.is_file():
            shutil.copyfile(trained, there)
        else:
            there.unlink(missing_ok=True)  # e.g. the base's chat_template.jinja, which would win
    return True
