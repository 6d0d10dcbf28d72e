"""Files a person reads: summary.md (a table to paste) and, for pairwise runs,
winrate.png (bars)."""

from __future__ import annotations

import io
from pathlib import Path

from axolotl_plug.io.records import write_whole


def _groups(summary: dict) -> list[tuple[str, dict]]:
    return [("overall", summary)] + sorted(summary.get("by_category", {}).items())


def _rate(side: dict) -> str:
    lo, hi = side["ci95"]
    return f"{side['win_rate']:.1%} [{lo:.1%}, {hi:.1%}]"


def summary_markdown(summary: dict) -> str:
    a, b = summary["a"]["name"], summary["b"]["name"]
    lines = [
        f"# {a} vs {b}" + (f", turn {summary['turn']}" if summary.get("turn") else ""),
        "",
        f"Judged by {summary['judge_model']} in both answer orders, protocol `{summary['protocol']}` "
        f"(prompt `{summary['prompt_name']}`, hash {summary['prompt_hash']}); a win plus a tie counts as a "
        f"(slight) win. Every id both files answer is judged, empty answers included; "
        f"{summary['missing']} ids were answered by one side only and not judged.",
        "",
        "| system | empty answers | truncated answers |",
        "|---|---:|---:|",
        f"| {a} | {summary['a']['empty']} | {summary['a']['truncated']} |",
        f"| {b} | {summary['b']['empty']} | {summary['b']['truncated']} |",
        "",
        f"| group | n | {a} wins | {b} wins | ties | errors | {a} win rate [95% CI] | {b} win rate [95% CI] |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, group in _groups(summary):
        ga, gb = group["a"], group["b"]
        lines.append(
            f"| {name} | {group['n']} | {ga['wins']} (+{ga['slight_wins']} slight) | "
            f"{gb['wins']} (+{gb['slight_wins']} slight) | {group['ties']} | {group['errors']} | "
            f"{_rate(ga)} | {_rate(gb)} |"
        )
    return "\n".join(lines) + "\n"


def _mean(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def single_markdown(summary: dict) -> str:
    """Single-answer grading: per system the reference's mean (errors as -1), the mean of
    the graded answers and the errors, overall and by dataset, category and language."""
    lines = [
        "# Single-answer grading",
        "",
        f"Graded by {summary['judge_model']}, protocol `{summary['protocol']}` (prompt `{summary['prompt_name']}`, "
        f"hash {summary['prompt_hash']}). `mean` averages every judgment and counts one without a rating "
        "as -1, as the reference's averaging script does; `mean graded` averages the ratings only.",
        "",
        "| system | group | n | mean | mean graded | errors |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for entry in summary["systems"].values():
        groups = [("overall", entry)] + [
            (f"{kind.removeprefix('by_')}: {name}", stats)
            for kind in ("by_dataset", "by_category", "by_language")
            for name, stats in entry[kind].items()
        ]
        for name, stats in groups:
            lines.append(
                f"| {entry['name']} | {name} | {stats['n']} | {_mean(stats['mean'])} | "
                f"{_mean(stats['mean_graded'])} | {stats['errors']} |"
            )
    return "\n".join(lines) + "\n"


def plot_winrate(summary: dict, path: Path) -> None:
    """Stacked horizontal bars: share of wins of A, ties, wins of B, errors per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(summary)
    labels = [name for name, _ in groups]
    parts = [
        (f"{summary['a']['name']} wins", lambda g: g["a"]["win_rate"], "#2b8a3e"),
        ("ties", lambda g: g["ties"] / g["n"] if g["n"] else 0, "#adb5bd"),
        (f"{summary['b']['name']} wins", lambda g: g["b"]["win_rate"], "#c92a2a"),
        ("errors", lambda g: g["errors"] / g["n"] if g["n"] else 0, "#f08c00"),
    ]
    fig, ax = plt.subplots(figsize=(8, 1 + 0.45 * len(groups)))
    left = [0.0] * len(groups)
    for label, share, color in parts:
        widths = [share(g) for _, g in groups]
        ax.barh(labels, widths, left=left, color=color, label=label)
        left = [start + w for start, w in zip(left, widths)]
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of items")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize="small", frameon=False)
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=120)
    plt.close(fig)
    write_whole(path, image.getvalue())
