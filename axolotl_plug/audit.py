"""`axolotl plug audit`: what the PLUG datasets of a config train on, row by row."""

from __future__ import annotations

from dataclasses import dataclass, field

from .dataset.labels import IGNORE
from .dataset.layout import languages_for, pivot_is_trained
from .dataset.strategy import DatasetReport
from .eval.metrics import extract_answer

OPEN, CLOSE = "⟦", "⟧"  # marks trained text in samples


@dataclass
class DatasetAudit:
    name: str
    rows_in: int
    rows_out: int
    dropped: dict[str, int]
    trained_tokens: int
    total_tokens: int
    too_long: int
    problems: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)

    @property
    def trained_share(self) -> float:
        return self.trained_tokens / self.total_tokens if self.total_tokens else 0.0


def runs(input_ids: list[int], labels: list[int]) -> list[tuple[bool, list[int]]]:
    """Consecutive (trained?, token ids) runs of a tokenized row."""
    out: list[tuple[bool, list[int]]] = []
    for token, label in zip(input_ids, labels):
        trained = label != IGNORE
        if out and out[-1][0] == trained:
            out[-1][1].append(token)
        else:
            out.append((trained, [token]))
    return out


def required_headers(lang: str, config) -> list[str]:
    """Headers that must sit inside trained text for a row in `lang`."""
    if config.mode == "monolingual":
        return []
    target, pivot = languages_for(lang, config)
    headers = [target.response_header]
    if pivot_is_trained(config):
        headers.append(pivot.response_header)
        if config.include_pivot_instruction:
            headers.append(pivot.instruction_header)
    return [h for h in headers if h]


def sections_line(text: str, lang: str, config) -> str:
    """The sections of a decoded row's answer as `extract` reads them, in the
    configured order (the prompt before them holds no header)."""
    if config.mode == "monolingual":
        return "sections: target answer only (monolingual)"
    found = extract_answer(text, lang, config)
    sizes = (("pivot instruction", found.pivot_instruction), ("pivot answer", found.pivot), ("target answer", found.target))
    return "sections: " + ", ".join(f"{name} {len(body)} chars" for name, body in sizes) + f" ({found.status})"


def audit_report(report: DatasetReport, tokenizer, sequence_len: int, num_samples: int = 3) -> DatasetAudit:
    """Check every kept row: it trains at least one token and its headers are trained."""
    dataset, config = report.dataset, report.config
    audit = DatasetAudit(report.name, report.rows_in, report.rows_out, dict(report.dropped), 0, 0, 0)
    for i, (ids, labels) in enumerate(zip(dataset["input_ids"], dataset["labels"])):
        pieces = runs(ids, labels)
        trained = [tokenizer.decode(tokens) for is_trained, tokens in pieces if is_trained]
        audit.trained_tokens += sum(len(tokens) for is_trained, tokens in pieces if is_trained)
        audit.total_tokens += len(ids)
        audit.too_long += len(ids) > sequence_len
        if not trained:
            audit.problems.append(f"row {report.rows[i]}: no trained token")
        trained_text = "".join(trained)
        for header in required_headers(report.langs[i], config):
            if header not in trained_text:
                audit.problems.append(f"row {report.rows[i]}: header {header!r} is not in a trained span")
        if i < num_samples:
            text = "".join(
                OPEN + tokenizer.decode(tokens) + CLOSE if is_trained else tokenizer.decode(tokens)
                for is_trained, tokens in pieces
            )
            audit.samples.append(f"row {report.rows[i]} ({report.langs[i]}):\n{text}\n{sections_line(tokenizer.decode(ids, skip_special_tokens=True), report.langs[i], config)}")
    return audit


def format_audit(audit: DatasetAudit) -> str:
    dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(audit.dropped.items(), key=lambda kv: -kv[1]))
    lines = [
        f"== {audit.name}",
        f"rows in: {audit.rows_in}  kept: {audit.rows_out}  dropped: {audit.rows_in - audit.rows_out}"
        + (f" ({dropped})" if dropped else ""),
        f"trained tokens: {audit.trained_tokens} of {audit.total_tokens} ({audit.trained_share:.1%})",
    ]
    if audit.too_long:
        lines.append(f"longer than sequence_len (axolotl drops or truncates them): {audit.too_long}")
    for problem in audit.problems[:20]:
        lines.append(f"PROBLEM {problem}")
    if len(audit.problems) > 20:
        lines.append(f"... and {len(audit.problems) - 20} more problems")
    for sample in audit.samples:
        lines += ["", f"-- sample {sample}"]
    return "\n".join(lines)


def format_preference_rows(rows, num_samples: int) -> str:
    """A preference dataset as the DPO trainer gets it: the count, then sample rows."""
    lines = [f"preference rows: {len(rows)}"]
    for index in range(min(num_samples, len(rows))):
        row = rows[index]
        lines += ["", f"-- sample row {index}", "prompt:", row["prompt"], "chosen:", row["chosen"],
                  "rejected:", row["rejected"]]
    return "\n".join(lines)
