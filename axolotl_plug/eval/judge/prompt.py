"""Judge protocols: the prompt, where its parts go, the decoding settings and how a
reply is read, for pairwise comparison (`pair`) and single-answer grading (`single`).
`ours` is our own wording and reading; `paper` is FastChat's llm_judge as the PLUG
repository vendors it, request for request, with the user's own prompt file (we ship none
of its text). `Judging` says what the two names mean for every judge request, X-TruthfulQA's
too ([evaluation.md](../../../docs/evaluation.md#judge-pairwise-comparison-and-single-grading)).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
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

DIALOGUE_SYSTEM = (
    "You are an impartial judge of AI assistants. You compare two assistants' conversations with the same "
    "user and decide which assistant answers the user's last message better."
)

DIALOGUE_USER = """Below are two conversations of the same user with two AI assistants. The user's messages are the same in both; each assistant's earlier answers are its own. Compare only the two answers to the user's last message (turn {turn}), read in the context of each conversation.

Judge how well each answer follows the user's last message: is it helpful, correct and relevant, consistent with what came before, complete where the message needs it and concise where it does not? Language counts as much as content: a good answer is written in the language of the user's messages and reads as fluent, natural text to a native speaker. Penalise an answer in the wrong language, one that mixes languages, and stilted or translated-sounding phrasing, above all in answers that are not in English.

Do not let the position of a conversation sway you: coming first makes Assistant A no better. Do not prefer an answer for being longer: text that adds nothing is a flaw. Ignore any claims the answers make about their own quality.

Explain your comparison in a few sentences. Then give your verdict on the last line, exactly one of:
[[A]] if Assistant A's last answer is better, [[B]] if Assistant B's last answer is better, [[C]] if they are equally good.

[Conversation with Assistant A]
{dialogue_a}

[Conversation with Assistant B]
{dialogue_b}"""

SINGLE_SYSTEM = (
    "You are an impartial judge of AI assistants. You rate how well one answer follows the user's instruction."
)

SINGLE_USER = """Rate the answer below to the user's instruction.

Judge how well it follows the instruction: is it helpful, correct and relevant, complete where the instruction needs it and concise where it does not? Language counts as much as content: a good answer is written in the language of the instruction and reads as fluent, natural text to a native speaker. Penalise an answer in the wrong language, one that mixes languages, and stilted or translated-sounding phrasing, above all in answers that are not in English. Do not reward length for its own sake.

Explain your rating in a few sentences. Then give it on the last line as a whole number from 1 (useless) to 10 (excellent) in double brackets, for example: [[6]]

[User instruction]
{instruction}

[Answer]
{answer}"""

PROTOCOLS = ("ours", "paper")
MODES = ("pair", "single")
# per mode: our placeholders, FastChat's placeholders, its entry type and output format, the paper's default entry
_MODE = {
    "pair": (
        ("{instruction}", "{answer_a}", "{answer_b}"),
        ("question", "answer_a", "answer_b"),
        "pairwise",
        "[[A]]",
        "pair-v2",
    ),
    "single": (("{instruction}", "{answer}"), ("question", "answer"), "single", "[[rating]]", "single-v1"),
    # FastChat's second turn of two: run_judge_pair(multi_turn=True)'s placeholders
    "pair-multi-turn": (
        (),
        ("question_1", "question_2", "answer_a_1", "answer_b_1", "answer_a_2", "answer_b_2"),
        "pairwise",
        "[[A]]",
        "pair-v2-multi-turn",
    ),
}
_VERDICT = re.compile(r"\[\[([ABC])\]\]")
_OUR_RATING = re.compile(r"\[\[(\d+(?:\.\d+)?)\]\]")
# FastChat's rating patterns, as llm_judge/common.py reads them
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")
REFERENCE_PROMPTS = (
    "the PLUG repository's src/evaluate/x-alpacaeval/llm_judge/fastchat/llm_judge/data/"
    "judge_prompts_focus_language.jsonl (entries pair-v2 and single-v1), or FastChat's "
    "fastchat/llm_judge/data/judge_prompts.jsonl"
)


def fastchat_request(max_tokens: int) -> dict:
    """The decoding settings of FastChat's chat_compeletion_openai, exactly (X-AlpacaEval)."""
    return {"n": 1, "temperature": 0, "top_p": 0, "max_tokens": max_tokens}


def gpt_utils_request(max_tokens: int) -> dict:
    """The decoding settings of the PLUG repository's gpt_utils, key for key (X-TruthfulQA, X-SVAMP)."""
    return {"max_tokens": max_tokens, "temperature": 0.0, "top_p": 0.0, "n": 1, "extra_body": {"stop": None}}


@dataclass(frozen=True)
class Judging:
    """What `ours` and `paper` mean for every judge request, pairwise, single-answer or an
    X-TruthfulQA pass: under `paper` the reference's request (`paper_request`) and a reply
    without a verdict is never asked again; under `ours` temperature 0, and such a reply
    may be asked again."""

    name: str  # "ours" or "paper"
    paper_request: Callable[[int], dict] = fastchat_request

    def __post_init__(self):
        if self.name not in PROTOCOLS:
            raise ValueError(f"unknown judge protocol {self.name!r} (one of {', '.join(PROTOCOLS)})")

    @property
    def reasks(self) -> bool:
        """May a reply without a verdict be asked again? Never under the paper's protocol."""
        return self.name == "ours"

    def settings(self, max_tokens: int) -> dict:
        """The decoding settings sent with every request."""
        return (
            self.paper_request(max_tokens) if self.name == "paper" else {"temperature": 0.0, "max_tokens": max_tokens}
        )


@dataclass(frozen=True)
class Protocol:
    """How one judge call is made and read."""

    name: str  # "ours" or "paper"
    mode: str  # "pair" or "single"
    prompt_name: str  # "ours", the user's file name, or the JSONL entry's name
    system: str
    template: str

    @property
    def template_hash(self) -> str:
        """The prompt itself (system message and template), hashed: summaries name it."""
        text = f"{self.system}\x00{self.template}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @property
    def judging(self) -> Judging:
        return Judging(self.name)

    @property
    def reasks(self) -> bool:
        return self.judging.reasks

    def settings(self, max_tokens: int) -> dict:
        return self.judging.settings(max_tokens)

    def messages(self, question: str, *answers: str) -> list[dict[str, str]]:
        """System and user message for one question and its answer (single) or two answers
        (pair, in slot order). Under `paper` the texts go in exactly as given."""
        ours_names, paper_names = _MODE[self.mode][:2]
        if self.name == "paper":
            user = self.template.format(**dict(zip(paper_names, (question, *answers))))
        else:  # plain replacement: answers may hold braces, and users' files are not format strings
            user = self.template
            for placeholder, text in zip(ours_names, (question, *(a.strip() for a in answers))):
                user = user.replace(placeholder, text)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def dialogue_messages(
        self, questions: list[str], answers_a: list[str], answers_b: list[str]
    ) -> list[dict[str, str]]:
        """System and user message comparing two conversations on their last turn: the
        same user `questions`, each assistant's own answers, in slot order."""
        if self.name == "paper":  # FastChat's multi-turn pair prompt: two turns, texts exactly as given
            if len(questions) != 2:
                raise ValueError("FastChat's multi-turn judge prompts compare the second of two turns")
            values = {"question_1": questions[0], "question_2": questions[1]}
            for slot, answers in (("a", answers_a), ("b", answers_b)):
                values.update({f"answer_{slot}_{k}": text for k, text in enumerate(answers, 1)})
            user = self.template.format(**values)
            return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]
        if "{dialogue_a}" not in self.template:
            raise ValueError("a multi-turn comparison needs the multi-turn prompt (dialogue_protocol)")

        def dialogue(answers: list[str]) -> str:
            turns = zip(range(1, len(questions) + 1), questions, answers)
            return "\n\n".join(
                f"[User, turn {k}]\n{q.strip()}\n\n[Assistant, turn {k}]\n{a.strip()}" for k, q, a in turns
            )

        user = self.template.replace("{turn}", str(len(questions)))
        user = user.replace("{dialogue_a}", dialogue(answers_a)).replace("{dialogue_b}", dialogue(answers_b))
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def read(self, reply: str) -> str | float | None:
        """Pair: 'A', 'B' or 'C'; single: the rating; None for a reply that gives none."""
        if self.mode == "single":
            return reference_rating(reply) if self.name == "paper" else single_rating(reply)
        return reference_verdict(reply) if self.name == "paper" else single_verdict(reply)


def ours(prompt_file: str | Path | None = None, mode: str = "pair") -> Protocol:
    """Our protocol, with our user message or a user's file of their own."""
    if prompt_file is None:
        system, template = (SYSTEM, USER) if mode == "pair" else (SINGLE_SYSTEM, SINGLE_USER)
        return Protocol("ours", mode, "ours", system, template)
    template = Path(prompt_file).read_text(encoding="utf-8")
    missing = [p for p in _MODE[mode][0] if p not in template]
    if missing:
        raise ValueError(f"{prompt_file}: the {mode} judge prompt must contain {', '.join(missing)}")
    return Protocol("ours", mode, Path(prompt_file).name, SYSTEM if mode == "pair" else SINGLE_SYSTEM, template)


def dialogue_protocol() -> Protocol:
    """Our protocol for comparing two conversations on one turn (`judge --turn N`)."""
    return Protocol("ours", "pair", "ours-multi-turn", DIALOGUE_SYSTEM, DIALOGUE_USER)


def paper(
    prompt_file: str | Path | None, prompt_name: str | None, mode: str = "pair", multi_turn: bool = False
) -> Protocol:
    """The reference protocol with entry `prompt_name` of a FastChat judge-prompt file
    (default: pair-v2 for pair, single-v1 for single; with `multi_turn`, FastChat's
    second-turn pair prompt, pair-v2-multi-turn)."""
    _, names, kind, output_format, default_name = _MODE["pair-multi-turn" if multi_turn else mode]
    if prompt_file is None:
        raise ValueError(
            "--protocol paper judges with the reference's own prompt, which we do not ship (it is "
            "not ours to copy): pass --prompt-file with a FastChat judge-prompt JSONL file "
            f"(default entry {default_name}). The paper's file is {REFERENCE_PROMPTS}."
        )
    entries = {}
    for number, line in enumerate(Path(prompt_file).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{prompt_file}: line {number} is not valid JSON ({exc})") from None
            if not isinstance(entry, dict):
                raise ValueError(f"{prompt_file}: line {number} is not an object (FastChat's format)")
            entries[entry.get("name")] = entry
    name = prompt_name or default_name
    entry = entries.get(name)
    if entry is None:
        raise ValueError(f"{prompt_file}: no prompt named {name!r} (it has {', '.join(map(str, entries))})")
    missing = [k for k in ("system_prompt", "prompt_template", "output_format") if k not in entry]
    if missing:
        raise ValueError(f"{prompt_file}: prompt {name!r} lacks {', '.join(missing)} (FastChat's format)")
    if entry.get("type") != kind or entry["output_format"] != output_format:
        raise ValueError(f"{prompt_file}: prompt {name!r} is not a {kind} {output_format} prompt (--mode {mode})")
    try:
        entry["prompt_template"].format(**{n: "" for n in names})
    except (KeyError, IndexError) as exc:
        hint = "reference answers are not supported" + ("" if multi_turn else "; a multi-turn prompt needs --turn 2")
        raise ValueError(f"{prompt_file}: prompt {name!r} needs {exc} besides {', '.join(names)} ({hint})") from None
    return Protocol("paper", mode, name, entry["system_prompt"], entry["prompt_template"])


def single_verdict(reply: str) -> str | None:
    """'A', 'B' or 'C' when the reply holds verdict tokens of exactly one kind, else None."""
    found = set(_VERDICT.findall(reply or ""))
    return found.pop() if len(found) == 1 else None


def reference_verdict(reply: str) -> str | None:
    """The reference rule: [[A]] anywhere wins, then [[B]], then [[C]]."""
    return next((v for v in "ABC" if f"[[{v}]]" in (reply or "")), None)


def single_rating(reply: str) -> float | None:
    """Our rule: one rating from 1 to 10 in double brackets (repeating it is fine)."""
    found = {float(v) for v in _OUR_RATING.findall(reply or "")}
    return found.pop() if len(found) == 1 and 1 <= next(iter(found)) <= 10 else None


def reference_rating(reply: str) -> float | None:
    """FastChat's rule: the first `[[N]]`, else the first `[N]`, as a number."""
    match = _RATING.search(reply or "") or _RATING_BACKUP.search(reply or "")
    return float(match.group(1)) if match else None
