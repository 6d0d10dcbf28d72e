"""`axolotl plug data translate`: instruction and response translated together in one
request per row, kept apart by markers that must survive, as the paper did. A
conversation (`messages`) takes one such request per turn."""

from __future__ import annotations

import re
from pathlib import Path

from axolotl_plug.datagen.pairs import conversation_turns, load_pairs
from axolotl_plug.format.langid import wrong_language
from axolotl_plug.format.languages import get_language
from axolotl_plug.io.client import ChatClient
from axolotl_plug.io.records import WRITTEN_BY, finished, sibling, write_jsonl
from axolotl_plug.io.runner import append_concurrently

INSTRUCTION_MARK = "<<<INSTRUCTION>>>"
RESPONSE_MARK = "<<<RESPONSE>>>"
_SPLIT = re.compile(re.escape(INSTRUCTION_MARK) + r"(.*?)" + re.escape(RESPONSE_MARK) + r"(.*)", re.S)

TRANSLATE = "data translate"


def translation_messages(instruction: str, response: str, source: str, target: str) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": (
                f"You are a professional translator. Translate the user's text from {source} into "
                f"{target}. The text has two parts, each starting with a marker line: "
                f"{INSTRUCTION_MARK} and {RESPONSE_MARK}. Copy both markers exactly, translate "
                "everything else faithfully and naturally, keep code, numbers, names and formatting, "
                "and write nothing but the translation."
            ),
        },
        {"role": "user", "content": f"{INSTRUCTION_MARK}\n{instruction}\n{RESPONSE_MARK}\n{response}"},
    ]


def split_translation(reply: str) -> tuple[str, str] | None:
    """(instruction, response) when both markers survived once each, in order."""
    if reply.count(INSTRUCTION_MARK) != 1 or reply.count(RESPONSE_MARK) != 1:
        return None
    match = _SPLIT.search(reply)
    if not match:
        return None
    instruction, response = match.group(1).strip(), match.group(2).strip()
    return (instruction, response) if instruction and response else None


def check_translation(reply: str, source: str, target: str) -> tuple[tuple[str, str] | None, str]:
    """The two parts and '' when usable, else None and the reason."""
    parts = split_translation(reply)
    if parts is None:
        return None, "markers lost"
    for name, text in zip(("instruction", "response"), parts):
        problem = wrong_language(text, target, (source, target))
        if problem:
            return None, f"{name} {problem}"
    return parts, ""


def translate_file(
    input_file: Path,
    lang: str,
    output: Path,
    client: ChatClient,
    *,
    source_lang: str = "en",
    concurrency: int = 8,
    reasks: int = 1,
    progress: bool = True,
) -> dict[str, int]:
    """Translate every row not yet in `output` or its `.rejected.jsonl`; append as rows
    finish. Returns counts. An unusable translation is asked again up to `reasks`
    times, then written to `.rejected.jsonl` with its reason. A row whose requests
    failed goes to `.failed.jsonl` with the HTTP status and the server's message, and
    is asked for again by the next run; a refusal every row would get (400, 401, 403,
    404) stops the run at once (ChatError)."""
    from tqdm.auto import tqdm

    rows, _ = load_pairs(input_file)
    files = {"out": output, "rejected": sibling(output, "rejected.jsonl")}
    failed_path = sibling(output, "failed.jsonl")
    output.parent.mkdir(parents=True, exist_ok=True)
    # our translated rows always name their language: a file without it is not ours to resume
    done = (
        finished(output, required=("lang",), written_by=TRANSLATE).keys()
        | finished(files["rejected"], written_by=TRANSLATE).keys()
    )
    finished(failed_path, required=("message",), written_by=TRANSLATE)  # ours to rewrite, or refused
    todo = [r for r in rows if r["id"] not in done]
    source_name, target_name = get_language(source_lang).name, get_language(lang).name

    def ask(instruction: str, response: str) -> tuple[tuple[str, str] | None, str, str]:
        """One request (asked again up to `reasks` times): the two parts, the reason, the reply."""
        messages = translation_messages(instruction, response, source_name, target_name)
        reply, reason = "", ""
        for _ in range(reasks + 1):
            reply = client.complete(messages, temperature=0.0).text
            parts, reason = check_translation(reply, source_lang, lang)
            if parts:
                return parts, "", reply
        return None, reason, reply

    def translate(row: dict) -> tuple[dict | None, str, str]:
        if row.get("messages") is not None:
            return translate_conversation(row)
        if not row["instruction"] or not row["response"]:
            return None, "empty instruction or response in the input", ""
        parts, reason, reply = ask(row["instruction"], row["response"])
        if not parts:
            return None, reason, reply
        translated = {"id": row["id"], "lang": lang, "instruction": parts[0], "response": parts[1]}
        return translated | {WRITTEN_BY: TRANSLATE}, "", reply

    def translate_conversation(row: dict) -> tuple[dict | None, str, str]:
        # one request per turn (its user message and the answer together); the conversation is
        # written once every turn is translated, so a rerun resumes conversation by conversation
        try:
            system, turns = conversation_turns(row["messages"])
        except ValueError as exc:
            return None, str(exc), ""
        messages = [{"role": "system", "content": system}] if system else []
        for number, (user, assistant) in enumerate(turns, 1):
            parts, reason, reply = ask(user, assistant)
            if not parts:
                return None, f"turn {number}: {reason}", reply
            messages += [{"role": "user", "content": parts[0]}, {"role": "assistant", "content": parts[1]}]
        return {"id": row["id"], "lang": lang, "messages": messages, WRITTEN_BY: TRANSLATE}, "", ""

    counts = {"translated": 0, "rejected": 0, "failed": 0, "already_done": len(rows) - len(todo)}

    def line(row: dict, result: tuple[dict | None, str, str]) -> tuple[str, dict]:
        translated, reason, reply = result
        if translated:
            counts["translated"] += 1
            return "out", translated
        counts["rejected"] += 1
        return "rejected", {"id": row["id"], "row": row["row"], "reason": reason, "reply": reply, WRITTEN_BY: TRANSLATE}

    bar = tqdm(
        total=len(rows), initial=len(rows) - len(todo), desc=f"translating to {lang}", unit="row", disable=not progress
    )
    failures = append_concurrently(translate, todo, files, line, concurrency=concurrency, bar=bar)
    counts["failed"] = len(failures)
    if failures:
        write_jsonl(
            failed_path,
            [
                {
                    "id": row["id"],
                    "row": row["row"],
                    "status": getattr(error, "status", None),
                    "message": str(error),
                    WRITTEN_BY: TRANSLATE,
                }
                for row, error in failures
            ],
        )
    else:
        failed_path.unlink(missing_ok=True)
    return counts
