"""`axolotl plug data prefs`: judged samples -> preference rows for `type: plug` under
`rl: dpo`.

Two answer files of `generate` (two sampled runs of one model, or two models) and the
pairwise `judge` run over them give, per item, an outcome in both answer orders. Every
item with a winner (a win, or a slight win: a win and a tie) becomes a row whose
`chosen` is the winner's whole PLUG answer (`raw_output`) and `rejected` the loser's.
Ties and errors are dropped, and so are pairs in which either answer has no target
section (status not `ok`: the preference type would refuse it), each counted; with
`require_target_language`, also pairs whose chosen target answer is not identified as
the target language.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from statistics import mean

from axolotl_plug.eval.answers import read_answers
from axolotl_plug.eval.judge.aggregate import item_outcome
from axolotl_plug.format.langid import identify
from axolotl_plug.io.records import finished, read_records, write_jsonl

DROP_REASONS = ("tie", "judge error", "no target section", "target not in the target language", "not judged")
LENGTH_BIAS = 1.5  # chosen answers this many times longer than rejected ones, on average: a warning


def judged_outcomes(judge_dir: Path) -> dict[str, str]:
    """Each item's outcome (`win_a`, `slight_b`, `tie`, `error`, ...) from a pairwise
    judge run's judgments.jsonl; a judgment asked again (answers changed) counts in its
    latest form."""
    path = judge_dir / "judgments.jsonl"
    if not path.is_file():
        raise ValueError(f"{judge_dir}: no judgments.jsonl (give the --output folder of `axolotl plug judge`)")
    verdicts: dict[tuple[str, str], str] = {}
    for index, row in enumerate(read_records(path)):
        if not isinstance(row, dict) or "order" not in row:
            raise ValueError(f"{path}: row {index} is not a pairwise judgment (single grading cannot rank two answers)")
        verdicts[(str(row["id"]), row["order"])] = row["verdict"]
    ids = {rid for rid, _ in verdicts}
    return {rid: item_outcome(verdicts.get((rid, "ab")), verdicts.get((rid, "ba"))) for rid in ids}


def check_judged_files(judge_dir: Path, a_path: Path, b_path: Path) -> None:
    """The judge run must have compared these very files, in this order."""
    summary_path = judge_dir / "summary.json"
    if not summary_path.is_file():
        return
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    judged = [summary.get(side, {}).get("answers") for side in ("a", "b")]
    if all(judged) and [Path(p).resolve() for p in judged] != [a_path.resolve(), b_path.resolve()]:
        raise ValueError(
            f"{judge_dir} judged {judged[0]} (A) against {judged[1]} (B), not --a {a_path} and "
            f"--b {b_path}: give the same files, in the same order"
        )


def build_prefs(
    a_path: Path,
    b_path: Path,
    judge_dir: Path,
    output: Path,
    *,
    require_target_language: bool = False,
    pivot_language: str = "en",
) -> dict:
    """Write the preference rows to `output`; return the report (rows kept, dropped by
    reason, mean target-answer lengths of chosen and rejected)."""
    check_judged_files(judge_dir, a_path, b_path)
    outcomes = judged_outcomes(judge_dir)
    a, b = read_answers(a_path), read_answers(b_path)
    dropped: Counter = Counter()
    rows = []
    for rid in a.texts:
        if rid not in b.texts:
            continue
        outcome = outcomes.get(rid)
        if outcome is None:
            dropped["not judged"] += 1
            continue
        if outcome == "tie" or outcome == "error":
            dropped["tie" if outcome == "tie" else "judge error"] += 1
            continue
        winner, loser = (a, b) if outcome.endswith("_a") else (b, a)
        won, lost = winner.rows[rid], loser.rows[rid]
        if (
            won.get("status") != "ok"
            or lost.get("status") != "ok"
            or "raw_output" not in won
            or "raw_output" not in lost
        ):
            dropped["no target section"] += 1
            continue
        lang = won.get("lang")
        if require_target_language and identify(won["output"], {lang, pivot_language}) != lang:
            dropped["target not in the target language"] += 1
            continue
        rows.append(
            {
                "id": won["id"],
                "instruction": won.get("instruction"),
                "lang": lang,
                "chosen": won["raw_output"],
                "rejected": lost["raw_output"],
                "outcome": outcome,
                "chosen_system": winner.name,
                "rejected_system": loser.name,
                "chosen_target_chars": len(won["output"]),
                "rejected_target_chars": len(lost["output"]),
            }
        )
    if not rows:
        raise ValueError(
            f"no preference rows: every judged pair was dropped ({', '.join(f'{n} {r}' for r, n in dropped.items()) or 'none judged'})"
        )
    write_rows(output, rows)
    chosen = mean(r["chosen_target_chars"] for r in rows)
    rejected = mean(r["rejected_target_chars"] for r in rows)
    return {
        "kept": len(rows),
        "dropped": {reason: dropped[reason] for reason in DROP_REASONS if dropped[reason]},
        "wins": sum(not r["outcome"].startswith("slight") for r in rows),
        "slight_wins": sum(r["outcome"].startswith("slight") for r in rows),
        "chosen_mean_chars": chosen,
        "rejected_mean_chars": rejected,
        "length_bias": rejected > 0 and chosen / rejected > LENGTH_BIAS,
    }


def write_rows(output: Path, rows: list[dict]) -> None:
    """Replace `output` as a whole (written beside it, then renamed), but only a file of
    preference rows this command wrote before; any other file is refused untouched."""
    finished(output, required=("chosen_system",))
    write_jsonl(output, rows)


def format_report(report: dict, output: Path) -> str:
    dropped = ", ".join(f"{n} {reason}" for reason, n in report["dropped"].items()) or "none"
    lines = [
        f"preference rows: {report['kept']} written to {output} ({report['wins']} wins, {report['slight_wins']} slight wins)",
        f"dropped: {dropped}",
        f"mean target answer: chosen {report['chosen_mean_chars']:.0f} characters, "
        f"rejected {report['rejected_mean_chars']:.0f}",
    ]
    if report["length_bias"]:
        lines.append(
            f"warning: chosen answers are more than {LENGTH_BIAS}x longer than rejected ones on average: "
            "the judge may prefer length, and DPO would learn to be verbose"
        )
    return "\n".join(lines)
