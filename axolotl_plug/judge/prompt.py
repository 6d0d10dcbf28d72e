"""Judge protocols: the prompt, where its parts go, the decoding settings and how a
verdict is read.

- `ours` (the default): our own wording (below), or a user's text file with
  `{instruction}`, `{answer_a}`, `{answer_b}`. A reply counts only when it holds
  verdict tokens of exactly one kind; one without may be asked again (`--reasks`).
- `paper`: the reference protocol, FastChat's llm_judge as the PLUG repository vendors
  it. An entry of a FastChat judge-prompt JSONL file (`name`, `type`, `system_prompt`,
  `prompt_template`, `output_format`): `system_prompt` is the system message,
  `prompt_template` filled with `{question}`, `{answer_a}`, `{answer_b}` (str.format,
  as FastChat fills it) the user message; temperature 0, top_p 0; the verdict is
  `[[A]]` if the reply holds it, else `[[B]]`, else `[[C]]` (a tie), else an error,
  and a reply is never asked again. We ship no prompt text of theirs: users pass the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

SYSTEM = (
    "You are an impartial judge of AI assistants. You compare two answers to the same "
    "user instruction and decide which one follows the instruction better."
)

USER = """Compare the two answers below to the user's instruction.

Judge how well each answer follows the instruction: is it helpful, correct and relevant, complete where the instruction needs it and concise where it does not? Language counts as much as content: a good answer is written in the language of the instruction and reads as fluent, natural text to a native speaker. Penalise an answer in the wrong language, one that mixes languages, and stilted or translated-sounding phrasing, above all in answers that are not in English.

Do not let the position of an answer sway you: coming first makes Answer A no better. Do not prefer an answer for being longer: text that adds nothing is a flaw. Ignore any claims the answers make about their own quality.

Explain your comparison in a few sentences. Then give your verdict on the last line, exactly one of:
[[A]] if Answer A is better, [[B]] if Answer B is better, [[C]] if they are equally good.

[User instruction]
{instruction}

[Answer A]
{answer_a}

[Answer B]
{answer_b}"""

PLACEHOLDERS = ("{instruction}", "{answer_a}", "{answer_b}")
_VERDICT = re.compile(r"\[\[([ABC])\]\]")
PROTOCOLS = ("ours", "paper")
REFERENCE_PROMPTS = (
    "the PLUG repository's src/evaluate/x-alpacaeval/llm_judge/fastchat/llm_judge/data/"
    "judge_prompts_focus_language.jsonl (entry pair-v2), or FastChat's "
    "fastchat/llm_judge/data/judge_prompts.jsonl"
)


@dataclass(frozen=True)
class Protocol:
    """How one judge call is made and read."""

    name: str  # "ours" or "paper"
    prompt_name: str  # "ours", the user's file name, or the JSONL entry's name
    system: str
    template: str
    top_p: float | None  # None: not sent
    reasks: bool  # may a reply without a verdict be asked again?

    @property
    def prompt_hash(self) -> str:
        text = f"{self.system}\x00{self.template}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def messages(self, question: str, answer_a: str, answer_b: str) -> list[dict[str, str]]:
        if self.name == "paper":
            user = self.template.format(question=question, answer_a=answer_a, answer_b=answer_b)
        else:  # plain replacement: answers may hold braces, and users' files are not format strings
            user = (
                self.template.replace("{instruction}", question).replace("{answer_a}", answer_a).replace("{answer_b}", answer_b)
            )
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def verdict(self, reply: str) -> str | None:
        """'A', 'B' or 'C', or None for a reply that gives none."""
        return reference_verdict(reply) if self.name == "paper" else single_verdict(reply)


def ours(prompt_file: str | Path | None = None) -> Protocol:
    """Our protocol, with our user message or a user's file of their own."""
    if prompt_file is None:
        return Protocol("ours", "ours", SYSTEM, USER, None, True)
    template = Path(prompt_file).read_text(encoding="utf-8")
    missing = [p for p in PLACEHOLDERS if p not in template]
    if missing:
        raise ValueError(f"{prompt_file}: the judge prompt must contain {', '.join(missing)}")
    return Protocol("ours", Path(prompt_file).name, SYSTEM, template, None, True)


def paper(prompt_file: str | Path | None, prompt_name: str | None) -> Protocol:
    """The reference protocol with entry `prompt_name` of a FastChat judge-prompt file."""
    if prompt_file is None:
        raise ValueError(
            "--protocol paper judges with the reference's own prompt, which we do not ship (it is "
            "not ours to copy): pass --prompt-file with a FastChat judge-prompt JSONL file and "
            f"--prompt-name pair-v2. The paper's file is {REFERENCE_PROMPTS}."
        )
    entries = {}
    for number, line in enumerate(Path(prompt_file).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{prompt_file}: line {number} is not valid JSON ({exc})") from None
            entries[entry.get("name")] = entry
    name = prompt_name or "pair-v2"
    entry = entries.get(name)
    if entry is None:
        raise ValueError(f"{prompt_file}: no prompt named {name!r} (it has {', '.join(map(str, entries))})")
    missing = [k for k in ("system_prompt", "prompt_template", "output_format") if k not in entry]
    if missing:
        raise ValueError(f"{prompt_file}: prompt {name!r} lacks {', '.join(missing)} (FastChat's format)")
    if entry.get("type") != "pairwise" or entry["output_format"] != "[[A]]":
        raise ValueError(f"{prompt_file}: prompt {name!r} is not a pairwise [[A]]/[[B]]/[[C]] prompt")
    try:
        entry["prompt_template"].format(question="", answer_a="", answer_b="")
    except (KeyError, IndexError) as exc:
        raise ValueError(
            f"{prompt_file}: prompt {name!r} needs {exc} besides question, answer_a and answer_b "
            "(reference answers and multi-turn prompts are not supported)"
        ) from None
    return Protocol("paper", name, entry["system_prompt"], entry["prompt_template"], 0.0, False)


def single_verdict(reply: str) -> str | None:
    """'A', 'B' or 'C' when the reply holds verdict tokens of exactly one kind, else None."""
    found = set(_VERDICT.findall(reply or ""))
    return found.pop() if len(found) == 1 else None


def reference_verdict(reply: str) -> str | None:
    """The reference rule: [[A]] anywhere wins, then [[B]], then [[C]]."""
    return next((v for v in "ABC" if f"[[{v}]]" in (reply or "")), None)
