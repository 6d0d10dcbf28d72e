"""`axolotl plug audit`: what the PLUG datasets of a config train on, row by row."""

from __future__ import annotations

from dataclasses import dataclass, field

from axolotl_plug.dataset.labels import IGNORE
from axolotl_plug.dataset.layout import pivot_is_trained
from axolotl_plug.dataset.strategy import DatasetReport
from axolotl_plug.format.answer import AnswerFormat

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
    answer_format = AnswerFormat.from_config(config, lang)
    target, pivot = answer_format.target, answer_format.pivot
    # in the reasoning channel the thinking's closing marker, not a header, marks the answer
    headers = [answer_format.thinking[1] if answer_format.reasoning else target.response_header]
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
    answer_format = AnswerFormat.from_config(config, lang)
    found = answer_format.extract(text)
    if answer_format.reasoning:  # the thinking part and the answer, each on its own
        thinking = f"pivot instruction {len(found.pivot_instruction)} chars, pivot answer {len(found.pivot)} chars"
        return f"thinking: {thinking}; answer: {len(found.target)} chars ({found.status})"
    sizes = (
        ("pivot instruction", found.pivot_instruction),
        ("pivot answer", found.pivot),
        ("target answer", found.target),
    )
    return "sections: " + ", ".join(f"{name} {len(body)} chars" for name, body in sizes) + f" ({found.status})"


def audit_report(report: DatasetReport, tokenizer, sequence_len: int, num_samples: int = 3) -> DatasetAudit:
    """Check every kept row: it trains at least one token and its headers are trained."""
    dataset, config = report.dataset, report.config
    audit = DatasetAudit(report.name, report.rows_in, report.rows_out, dict(report.dropped), 0, 0, 0)
    for i, (ids, labels) in enumerate(zip(dataset["input_ids"], dataset["labels"])):
        turn = report.turns[i] if report.turns else 0
        where = f"row {report.rows[i]}" + (f", assistant turn {turn}" if turn else "")
        pieces = runs(ids, labels)
        trained = [tokenizer.decode(tokens) for is_trained, tokens in pieces if is_trained]
        audit.trained_tokens += sum(len(tokens) for is_trained, tokens in pieces if is_trained)
        audit.total_tokens += len(ids)
        audit.too_long += len(ids) > sequence_len
        if not trained:
            audit.problems.append(f"{where}: no trained token")
        trained_text = "".join(trained)
        for header in required_headers(report.langs[i], config):
            if header not in trained_text:
                audit.problems.append(f"{where}: header {header!r} is not in a trained span")
        if i < num_samples:
            text = "".join(
                OPEN + tokenizer.decode(tokens) + CLOSE if is_trained else tokenizer.decode(tokens)
                for is_trained, tokens in pieces
            )
            lines = [f"{where} ({report.langs[i]}):", text]
            if turn > 1:
                earlier = f"{turn - 1} earlier assistant turn" + ("s" if turn > 2 else "")
                lines.append(f"history: {earlier}, in their target-language content, not trained")
            lines.append(sections_line(tokenizer.decode(ids, skip_special_tokens=True), report.langs[i], config))
            audit.samples.append("\n".join(lines))
    return audit


def format_audit(audit: DatasetAudit) -> str:
    dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(audit.dropped.items(), key=lambda kv: -kv[1]))
    n_dropped = sum(audit.dropped.values())
    counts = f"rows in: {audit.rows_in}  kept: {audit.rows_out}  dropped: {n_dropped}"
    if audit.rows_out + n_dropped != audit.rows_in:  # plug.turns: all, one training row per assistant turn
        counts = (
            f"rows in: {audit.rows_in}  training rows (one per trained turn): {audit.rows_out + n_dropped}  "
            f"kept: {audit.rows_out}  dropped: {n_dropped}"
        )
    lines = [
        f"== {audit.name}",
        counts + (f" ({dropped})" if dropped else ""),
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
        lines += [
            "",
            f"-- sample row {index}",
            "prompt:",
            row["prompt"],
            "chosen:",
            row["chosen"],
            "rejected:",
            row["rejected"],
        ]
    return "\n".join(lines)


@dataclass
class AuditOutcome:
    """What `axolotl plug audit` prints (one text per dataset) and whether it failed."""

    texts: list[str]
    failed: bool


def run_audit(config_path: str, num_samples: int = 3) -> AuditOutcome:
    """Load a config's datasets as training does and audit each PLUG dataset. It fails
    when a row trains no token, a header is not trained, or (with `on_bad_row: error`)
    training would stop on a bad row: every bad row is counted instead of stopping at
    the first. Preference configs (`rl:`) show their rows as the trainer gets them."""
    from pydantic import ValidationError

    from axolotl_plug.config import describe_invalid, plug_config
    from axolotl_plug.dataset.host import load_config, preference_rows, tokenize_datasets
    from axolotl_plug.dataset.strategy import recording_reports

    try:
        cfg = load_config(config_path)
    except ValidationError as exc:
        raise ValueError(f"{config_path}: {describe_invalid(exc)}") from None
    if cfg.get("rl"):  # preference rows: the prompt and both answers as the trainer gets them
        return AuditOutcome([format_preference_rows(preference_rows(cfg), num_samples)], False)
    strict = plug_config(cfg).on_bad_row == "error"
    cfg.plug = {**(cfg.get("plug") or {}), "on_bad_row": "skip"}
    with recording_reports() as reports:
        tokenizer = tokenize_datasets(cfg)
    if not reports:
        raise ValueError("no dataset of this config has `type: plug`")
    outcome = AuditOutcome([], False)
    for report in reports:
        result = audit_report(report, tokenizer, cfg.sequence_len, num_samples)
        outcome.texts.append(format_audit(result) + "\n")
        outcome.failed |= bool(result.problems) or (strict and bool(report.dropped))
    return outcome
