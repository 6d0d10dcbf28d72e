"""X-SVAMP: accuracy of the final number by the reference's rule (the PLUG repository's
`evaluate_svamp.py`, its quirks kept, since they change scores), after an optional answer
extraction by a chat model as its `chatgpt_answer_extraction.py` asks for it
([evaluation.md](../../../docs/evaluation.md#score-svamp-and-score-truthfulqa)).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from axolotl_plug.eval.answers import language_of, read_answers
from axolotl_plug.eval.score.references import is_number, is_text, load_references, match, write_scores
from axolotl_plug.io.runner import Ask, ask_all

NUMBER = re.compile(r"(\-?\d+(,\d{3})*)")
EXTRACT_SYSTEM = "You are a helpful assistant."
PROMPT_TOKEN_LIMIT = 3980
# the reference's request, key for key (its gpt_utils.chatgpt_single_turn_inference)
EXTRACT_SETTINGS = {"max_tokens": 20, "temperature": 0, "top_p": 0, "n": 1, "extra_body": {"stop": None}}

# Our few-shot prompt (the reference's is not ours to ship; pass it with
# --extract-prompt-file): filled with str.format, as the reference fills its own.
EXTRACT_PROMPT = """Below are math word problems, each with a model's step-by-step response. For the last one, write the final answer the response gives, in Arabic numerals and nothing else. If the response gives no final answer, write "[invalid]".

Question: 小明有12个苹果，他给了妹妹5个。他还剩几个苹果？请一步一步思考，然后给出最终答案。

Model response: 小明原来有12个苹果。
给了妹妹5个以后：12 - 5 = 7。
所以他还剩7个苹果。

Extracted answer: 7

Question: Una scatola contiene 24 matite divise in 4 gruppi uguali. Quante matite ci sono in ogni gruppo? Ragiona passo dopo passo prima di rispondere.

Model response: Dividiamo le 24 matite in 4 gruppi: 24 ÷ 4 = 6.
Ogni gruppo contiene quindi 6 matite.

Extracted answer: 6

Question: 민수는 사탕 8개를 가지고 있었고 친구에게 15개를 더 받았습니다. 민수는 사탕을 모두 몇 개 가지고 있나요? 단계별로 생각한 뒤 답하세요.

Model response: 처음 사탕: 8개
받은 사탕: 15개
8 + 15 = 23
민수는 모두 23개의 사탕을 가지고 있습니다.

Extracted answer: 23

Question: Un tren recorre 60 kilómetros cada hora. ¿Cuántos kilómetros recorre en 3 horas? Explica tu razonamiento paso a paso.

Model response: En una hora recorre 60 km, así que en 3 horas recorre 60 × 3 = 180 km.
El tren recorre 180 kilómetros.

Extracted answer: 180

Question: 图书馆周一借出了35本书，周二又借出了一些书。两天一共借出了多少本书？请一步一步思考，然后给出最终答案。

Model response: 周一借出了35本书。
题目没有说周二借出了多少本书，所以无法算出两天一共借出了多少本书。

Extracted answer: [invalid]

Question: {question}

Model response: {response}

Extracted answer:"""


def mgsm_reference(index: int, row: dict) -> dict:
    """A reference row in X-SVAMP's form (`id`, `answer`). MGSM's rows (`question`,
    `answer_number`, no id) become one: the number is the answer, and the id the row's
    position, as `generate` numbers rows without one."""
    if "answer_number" not in row or is_number(row.get("answer")):
        return row
    return {"id": index, **row, "answer": row["answer_number"]}


def read_number(text: str) -> float | None:
    """The reference's number: the last match of `-?\\d+(,\\d{3})*`, commas dropped; None
    when the text has no digit."""
    found = NUMBER.findall(text)
    return float(found[-1][0].replace(",", "")) if found else None


def is_correct(prediction: float | None, gold) -> bool:
    return prediction is not None and math.isclose(prediction, float(gold))


def collapse_newlines(text: str) -> str:
    return re.sub(r"\n+", "\n", text)


def extraction_messages(
    template: str, question: str, response: str, model: str, limit: int = PROMPT_TOKEN_LIMIT
) -> list[dict[str, str]]:
    """The reference's extraction request for one answer."""
    prompt = template.format(question=collapse_newlines(question), response=collapse_newlines(response))
    return [
        {"role": "system", "content": EXTRACT_SYSTEM},
        {"role": "user", "content": cut_to_tokens(prompt, model, limit)},
    ]


def cut_to_tokens(prompt: str, model: str, limit: int) -> str:
    """The prompt's first `limit` tokens of `model`'s tiktoken encoding (cl100k_base for
    a model tiktoken does not know), decoded; the prompt itself when it is shorter."""
    if len(prompt.encode("utf-8")) <= limit:  # a token holds at least one byte
        return prompt
    import tiktoken

    try:
        encoding = tiktoken.encoding_for_model(model)
    except KeyError:
        encoding = tiktoken.get_encoding("cl100k_base")
    tokens = encoding.encode(prompt, disallowed_special=())
    return encoding.decode(tokens[:limit]) if len(tokens) > limit else prompt


def read_extract_prompt(path: str | Path | None) -> tuple[str, str]:
    """(name, template) of the extraction prompt: ours, or a user's text file with
    `{question}` and `{response}` (str.format: write literal braces as `{{` `}}`)."""
    if path is None:
        return "ours", EXTRACT_PROMPT
    template = Path(path).read_text(encoding="utf-8")
    try:
        template.format(question="", response="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{path}: the extraction prompt may use only {{question}} and {{response}} ({exc!r})"
        ) from None
    missing = [p for p in ("{question}", "{response}") if p not in template]
    if missing:
        raise ValueError(f"{path}: the extraction prompt must contain {', '.join(missing)}")
    return Path(path).name, template


DENOMINATORS = ("references", "answers")


def accuracy_stats(rows: list[dict], denominator: str = "references") -> dict:
    """`accuracy` over every reference id (an unanswered one counts as wrong: ours), or
    with `denominator="answers"` over the ids that have an answer (the reference's
    evaluate_svamp.py averages over the predictions it is given)."""
    n = len(rows)
    correct = sum(r["correct"] for r in rows)
    counted = n if denominator == "references" else sum(not r.get("missing") for r in rows)
    return {
        "n": n,
        "correct": correct,
        "accuracy": correct / counted if counted else None,
        "no_number": sum(r["prediction"] is None and not r.get("missing") for r in rows),
        "missing": sum(bool(r.get("missing")) for r in rows),
    }


def score_svamp(
    answers_path: Path,
    references: str,
    output: Path,
    *,
    split: str | None = None,
    client=None,
    extract_prompt: str | Path | None = None,
    prompt_token_limit: int = PROMPT_TOKEN_LIMIT,
    concurrency: int = 8,
    progress: bool = True,
    denominator: str = "references",
) -> dict:
    """Score one answer file against the X-SVAMP references; with `client` (a chat
    model) extract each answer's number first. Writes `scored.jsonl`, `summary.json`
    and `summary.md` to `output` (extraction replies go to `extractions.jsonl` as they
    arrive, so a rerun asks only for the rest). Returns the summary. A reference id
    without an answer is scored wrong and listed under `missing_ids`; `denominator`
    says whether it counts in the accuracy (see `accuracy_stats`)."""
    if denominator not in DENOMINATORS:  # before any request
        raise ValueError(f"denominator must be one of {DENOMINATORS}, not {denominator!r}")
    refs = load_references(references, split, {"answer": (is_number, "a number")}, mgsm_reference)
    answers = read_answers(answers_path)
    matched = match(refs, answers, references)
    output.mkdir(parents=True, exist_ok=True)

    extracted: dict[str, str] = {}
    prompt_name = None
    if client is not None:
        prompt_name, template = read_extract_prompt(extract_prompt)
        asks = []
        for ref in refs:
            rid = str(ref["id"])
            if rid in answers.texts:
                question = answers.rows[rid].get("instruction")
                question = question if is_text(question) else ref.get("instruction", "")
                messages = extraction_messages(template, question, answers.texts[rid], client.model, prompt_token_limit)
                asks.append(Ask((("id", rid),), tuple(messages)))
        lines = ask_all(
            client,
            asks,
            output / "extractions.jsonl",
            read=str.strip,
            value_field="extracted",
            fallback="",
            settings=EXTRACT_SETTINGS,
            written_by="score svamp",
            concurrency=concurrency,
            desc="extracting",
            progress=progress,
        )
        extracted = {row["id"]: row["extracted"] for row in lines}

    language = language_of([answers])
    scored = []
    for ref in refs:
        rid = str(ref["id"])
        row = {"id": ref["id"], "lang": language(ref), "answer": ref["answer"]}
        if rid not in answers.texts:
            scored.append({**row, "output": None, "prediction": None, "correct": False, "missing": True})
            continue
        text = extracted[rid] if client is not None else answers.texts[rid]
        prediction = read_number(text)
        scored.append(
            {
                **row,
                "output": answers.texts[rid],
                **({"extracted": text} if client is not None else {}),
                "prediction": prediction,
                "correct": is_correct(prediction, ref["answer"]),
            }
        )
    return write_scores(
        output,
        scored,
        lambda rows: accuracy_stats(rows, denominator),
        {
            "benchmark": "x-svamp",
            "denominator": denominator,
            "system": answers.name,
            "answers": str(answers.path),
            "references": references,
            "split": split,
            "missing_ids": matched.missing_ids,
            "not_in_references": matched.unmatched,
            "extract_model": client.model if client is not None else None,
            "extract_prompt": prompt_name,
        },
        svamp_markdown,
    )


def svamp_markdown(summary: dict) -> str:
    how = (
        f"numbers extracted by {summary['extract_model']} (prompt `{summary['extract_prompt']}`), then read"
        if summary["extract_model"]
        else "the last number of each answer read"
    )
    lines = [
        f"# X-SVAMP: {summary['system']}",
        "",
        f"Accuracy with the reference's rule: {how} and compared with the gold answer. "
        + (
            f"An unanswered question counts as wrong ({summary['missing']} here)."
            if summary.get("denominator", "references") == "references"
            else f"Over the answered questions only, as the reference's script averages ({summary['missing']} unanswered)."
        ),
        "",
        "| language | n | correct | accuracy | no number | unanswered |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    groups = [("all", summary)] + list(summary["by_language"].items())
    for name, stats in groups:
        lines.append(
            f"| {name} | {stats['n']} | {stats['correct']} | {stats['accuracy']:.1%} | "
            f"{stats['no_number']} | {stats['missing']} |"
        )
    return "\n".join(lines) + "\n"
