"""`axolotl plug report RUN_DIR...`: the summaries of judge and score runs, and the
answer files they name, as one table like the paper's (`report.md`) and a figure
(`report.png`).

One row per language and system. Columns: X-AlpacaEval win / tie / loss against the
other system of its pairwise run, with the win rate's 95% interval; the single-grading
mean (the reference's figure: a judgment without a rating counts as -1); X-TruthfulQA
truthful / informative / both; X-SVAMP accuracy; and, from the answer files, the share
of answers identified as the target language and the share with no target answer. A
column without a run stays empty, never zero.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path

from axolotl_plug.eval.answers import language_of, read_answers
from axolotl_plug.format.langid import identify
from axolotl_plug.format.sections import has_target
from axolotl_plug.io.records import replaceable, write_whole

COLUMNS = (
    ("alpacaeval", "X-AlpacaEval win / tie / loss (%)"),
    ("alpacaeval_ci", "win 95% CI"),
    ("single", "single grading mean"),
    ("truthful", "X-TruthfulQA truthful"),
    ("informative", "informative"),
    ("both", "both"),
    ("svamp", "X-SVAMP accuracy"),
    ("target_lang", "answers in the target language"),
    ("no_target", "no target answer"),
)
OVERALL = "all"


def read_summary(run_dir: Path) -> dict:
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise ValueError(f"{run_dir}: no summary.json (give folders written by `judge` or `score`)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(summary, dict) or not (summary.get("benchmark") or summary.get("mode") or "ties" in summary):
        raise ValueError(f"{path}: not a summary of `judge` or `score`")
    return summary


def _per_language(summary: dict) -> list[tuple[str, dict]]:
    """(language, figures): one per language when the run knows them, else the whole run."""
    return list(summary.get("by_language", {}).items()) or [(OVERALL, summary)]


def _pct(share: float | None) -> str:
    return "" if share is None else f"{100 * share:.1f}"


def table_cells(summaries: list[dict]) -> tuple[dict[tuple[str, str], dict[str, str]], dict[str, Path]]:
    """{(language, system): {column: text}} from the summaries, and each system's answer
    files by name (for the answer-file columns)."""
    cells: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    answer_files: dict[str, set[Path]] = defaultdict(set)
    for summary in summaries:
        kind = summary.get("benchmark") or summary.get("mode", "pair")
        if kind == "pair":
            for side, other in (("a", "b"), ("b", "a")):
                name, opponent = summary[side]["name"], summary[other]["name"]
                if summary[side].get("answers"):
                    answer_files[name].add(Path(summary[side]["answers"]))
                for lang, group in _per_language(summary):
                    if not group["n"]:
                        continue
                    lo, hi = group[side]["ci95"]
                    tie = group["ties"] / group["n"]
                    cell = cells[(lang, name)]
                    turn = f" (turn {summary['turn']})" if summary.get("turn") else ""
                    cell["alpacaeval"].append(
                        f"{_pct(group[side]['win_rate'])} / {_pct(tie)} / "
                        f"{_pct(group[other]['win_rate'])} vs {opponent}{turn}"
                    )
                    cell["alpacaeval_ci"].append(f"{_pct(lo)}–{_pct(hi)}")
        elif kind == "single":
            for entry in summary["systems"].values():
                answer_files[entry["name"]].add(Path(entry["answers"]))
                for lang, group in _per_language(entry):
                    if group["mean"] is not None:
                        cells[(lang, entry["name"])]["single"].append(f"{group['mean']:.2f}")
        elif kind in ("x-svamp", "x-truthfulqa"):
            name = summary["system"]
            answer_files[name].add(Path(summary["answers"]))
            for lang, group in _per_language(summary):
                cell = cells[(lang, name)]
                if kind == "x-svamp":
                    cell["svamp"].append(_pct(group["accuracy"]))
                else:
                    for column in ("truthful", "informative", "both"):
                        cell[column].append(_pct(group[column]["share"]))
        else:
            raise ValueError(f"a summary of an unknown kind: {kind!r}")
    return {key: {c: "; ".join(v) for c, v in cell.items()} for key, cell in cells.items()}, answer_files


def answer_shares(paths: set[Path]) -> dict[str, dict[str, float]]:
    """Per language: the share of answers identified as their `lang` (among the files'
    languages and English) and the share with no target answer (status
    missing_target, or an empty `output`), over every answer of the files."""
    rows = []  # (the answer's language, the answer)
    for path in sorted(paths):
        answers = read_answers(path)
        language = language_of([answers])
        rows += [(language(row), row) for row in answers.rows.values()]
    languages = {lang for lang, _ in rows if lang} | {"en"}
    groups: dict[str, list[tuple]] = defaultdict(list)
    for lang, row in rows:
        groups[lang or OVERALL].append((lang, row))
    if len(groups) > 1 or OVERALL not in groups:
        groups[OVERALL] = rows
    shares = {}
    for lang, group in groups.items():
        in_target = [bool(item_lang) and identify(r["output"], languages) == item_lang for item_lang, r in group]
        no_target = [not has_target(r.get("status"), r["output"]) for _, r in group]
        shares[lang] = {"target_lang": sum(in_target) / len(group), "no_target": sum(no_target) / len(group)}
    return shares


def build_table(run_dirs: list[Path]) -> list[dict[str, str]]:
    """The report's rows: language, system and one text per column ('' where no run)."""
    summaries = [read_summary(d) for d in run_dirs]
    cells, answer_files = table_cells(summaries)
    shares = {name: answer_shares(paths) for name, paths in answer_files.items() if all(p.is_file() for p in paths)}
    keys = set(cells)
    for name, by_lang in shares.items():
        langs_in_runs = {lang for lang, system in keys if system == name}
        keys |= {(lang, name) for lang in by_lang if lang in langs_in_runs or not langs_in_runs}
    rows = []
    for lang, name in sorted(keys):
        row = {"language": lang, "system": name, **{c: "" for c, _ in COLUMNS}, **cells.get((lang, name), {})}
        share = shares.get(name, {}).get(lang)
        if share:
            row["target_lang"], row["no_target"] = _pct(share["target_lang"]), _pct(share["no_target"])
        rows.append(row)
    return rows


def table_markdown(rows: list[dict[str, str]], run_dirs: list[Path]) -> str:
    header = ["language", "system"] + [title for _, title in COLUMNS]
    lines = [
        "# PLUG evaluation report",
        "",
        "Runs: " + ", ".join(f"`{d}`" for d in run_dirs) + ". Percentages; an empty cell has no run. "
        "Win / tie / loss are against the other system of the pairwise run; the single-grading mean counts "
        "a judgment without a rating as -1, as the reference does; the last two columns come from the "
        "answer files the runs name.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        lines.append("| " + " | ".join([row["language"], row["system"]] + [row[c] for c, _ in COLUMNS]) + " |")
    return "\n".join(lines) + "\n"


def plot_report(rows: list[dict[str, str]], path: Path) -> None:
    """One panel per figure that has runs: bars per language, one colour per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches
    import matplotlib.pyplot as plt

    panels = [
        ("alpacaeval", "X-AlpacaEval win rate (%)"),
        ("single", "single grading mean"),
        ("truthful", "X-TruthfulQA truthful (%)"),
        ("both", "truthful and informative (%)"),
        ("svamp", "X-SVAMP accuracy (%)"),
        ("target_lang", "answers in the target language (%)"),
    ]

    def value(row: dict, column: str) -> float | None:
        text = row[column].split(";")[0].split("/")[0].strip()
        try:
            return float(text)
        except ValueError:
            return None

    panels = [(c, t) for c, t in panels if any(value(r, c) is not None for r in rows)]
    languages = sorted({r["language"] for r in rows})
    systems = sorted({r["system"] for r in rows})
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4 * max(1, len(panels)), 3.4), squeeze=False)
    width = 0.8 / max(1, len(systems))
    colours = {system: plt.cm.tab10(i % 10) for i, system in enumerate(systems)}
    for ax, (column, title) in zip(axes[0], panels):
        for i, system in enumerate(systems):
            heights = [
                next((value(r, column) for r in rows if r["language"] == lang and r["system"] == system), None)
                for lang in languages
            ]
            xs = [x + i * width for x, h in zip(range(len(languages)), heights) if h is not None]
            ax.bar(xs, [h for h in heights if h is not None], width, color=colours[system])
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(languages))], languages)
        ax.set_xlim(-width / 2 - 0.1, len(languages) - 0.2 - width / 2 + 0.1)
        ax.set_title(title, fontsize="medium")
    handles = [matplotlib.patches.Patch(color=colours[s], label=s) for s in systems]
    fig.legend(handles=handles, loc="upper center", ncol=max(1, len(systems)), frameon=False, fontsize="small")
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=120)
    plt.close(fig)
    write_whole(path, image.getvalue())


def write_report(run_dirs: list[Path], output: Path) -> str:
    """Write `report.md` and `report.png` to `output`; return the markdown."""
    rows = build_table(run_dirs)
    replaceable(output / "report.md", lambda text: text.startswith("# PLUG evaluation report"))
    replaceable(output / "report.json", lambda text: '"language"' in text and '"system"' in text)
    output.mkdir(parents=True, exist_ok=True)
    text = table_markdown(rows, run_dirs)
    write_whole(output / "report.md", text)
    write_whole(output / "report.json", json.dumps(rows, ensure_ascii=False, indent=2))
    plot_report(rows, output / "report.png")
    return text
