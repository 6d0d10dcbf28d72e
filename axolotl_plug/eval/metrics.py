"""Pure metrics over generated PLUG answers: plain functions on plain data."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from statistics import mean

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.langid import identify, share_in_language
from axolotl_plug.format.sections import OK


@dataclass
class ScoredAnswer:
    """One generated answer, extracted and checked. Written to the step files."""

    id: str
    lang: str
    instruction: str
    raw_output: str
    target: str
    pivot: str
    pivot_instruction: str
    status: str
    target_lang: str | None
    pivot_lang: str | None
    pivot_leak: float
    reference: str | None = None
    rank: int = 0  # the process that generated it
    turn: int | None = None  # of a multi-turn row

    def to_dict(self) -> dict:
        return asdict(self)


def languages_in_play(records: Iterable[Mapping], config: PlugConfig) -> set[str]:
    """The target languages of `records` plus the pivot: what language ID chooses among."""
    return {r["lang"] for r in records} | {config.pivot_language}


def score_answer(
    record: Mapping, raw_output: str, config: PlugConfig, languages: Iterable[str], rank: int = 0
) -> ScoredAnswer:
    """Extract one answer and identify the language of its parts among `languages`."""
    lang = record["lang"]
    pivot_language = config.pivot_language
    got = AnswerFormat.from_config(config, lang).extract(raw_output)
    in_play = set(languages) | {lang, pivot_language}
    return ScoredAnswer(
        id=str(record.get("id", "")),
        lang=lang,
        instruction=record["instruction"],
        raw_output=raw_output,
        target=got.target,
        pivot=got.pivot,
        pivot_instruction=got.pivot_instruction,
        status=got.status,
        target_lang=identify(got.target, in_play),
        pivot_lang=identify(got.pivot, in_play),
        pivot_leak=share_in_language(got.target, pivot_language, in_play) if lang != pivot_language else 0.0,
        reference=record.get("reference"),
        rank=rank,
        turn=record.get("turn"),
    )


def chrf(hypotheses: list[str], references: list[str]) -> float:
    """Corpus chrF (sacrebleu's defaults), 0..100."""
    from sacrebleu.metrics import CHRF

    return CHRF().corpus_score(hypotheses, [references]).score


def plug_metrics(scored: list[ScoredAnswer], pivot_language: str, mode: str = "plug") -> dict[str, float]:
    """The `plug/` metrics of a list of judged answers (keys without the prefix).

    format_ok      share whose target section follows the pivot sections (status ok)
    target_lang_ok share whose extracted target answer is identified as the target language
    pivot_lang_ok  share whose pivot answer is identified as the pivot language (plug mode)
    pivot_leak     mean share of the target answer's letters in sentences identified as
                   the pivot language (0 = none of it, 1 = all of it)
    target_chars, pivot_chars  mean lengths in characters
    chrf           chrF of target answers against references, where references exist
    """
    if not scored:
        return {}
    out = {
        "format_ok": mean(j.status == OK for j in scored),
        "target_lang_ok": mean(j.target_lang == j.lang for j in scored),
        "pivot_leak": mean(j.pivot_leak for j in scored),
        "target_chars": mean(len(j.target) for j in scored),
    }
    if mode == "plug":
        out["pivot_lang_ok"] = mean(j.pivot_lang == pivot_language for j in scored)
        out["pivot_chars"] = mean(len(j.pivot) for j in scored)
    referenced = [j for j in scored if j.reference]
    if referenced:
        out["chrf"] = chrf([j.target for j in referenced], [j.reference for j in referenced])
    return out


def metrics_by_language(
    scored: list[ScoredAnswer], pivot_language: str, mode: str = "plug", prefix: str = "plug/"
) -> dict[str, float]:
    """`plug/<metric>` over everything, plus `plug/<lang>/<metric>` when languages mix."""
    metrics = {f"{prefix}{k}": v for k, v in plug_metrics(scored, pivot_language, mode).items()}
    groups: dict[str, list[ScoredAnswer]] = defaultdict(list)
    for j in scored:
        groups[j.lang].append(j)
    if len(groups) > 1:
        for lang, group in sorted(groups.items()):
            metrics.update({f"{prefix}{lang}/{k}": v for k, v in plug_metrics(group, pivot_language, mode).items()})
    return metrics


def format_table(metrics: Mapping[str, float]) -> str:
    """Metrics as an aligned two-column table, for terminals and logs."""
    width = max((len(k) for k in metrics), default=0)
    return "\n".join(f"{k:<{width}}  {v:.3f}" for k, v in metrics.items())
