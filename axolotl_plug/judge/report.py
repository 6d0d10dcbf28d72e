"""Files a person reads: summary.md (a table to paste) and winrate.png (bars)."""

from __future__ import annotations

from pathlib import Path


def _groups(summary: dict) -> list[tuple[str, dict]]:
    return [("overall", summary)] + sorted(summary.get("by_category", {}).items())


def _rate(side: dict) -> str:
    lo, hi = side["ci95"]
    return f"{side['win_rate']:.1%} [{lo:.1%}, {hi:.1%}]"


def summary_markdown(summary: dict) -> str:
    a, b = summary["a"]["name"], summary["b"]["name"]
    lines = [
        f"# {a} vs {b}",
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
        left = [l + w for l, w in zip(left, widths)]
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of items")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
