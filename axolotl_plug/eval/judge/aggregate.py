"""The paper's aggregation over the two answer orders, win rates and bootstrap intervals."""

from __future__ import annotations

import random
from collections import Counter

# outcomes of one item, judged in both orders
WIN_A, WIN_B, SLIGHT_A, SLIGHT_B, TIE, ERROR = "win_a", "win_b", "slight_a", "slight_b", "tie", "error"


def _system(verdict: str | None, order: str) -> str | None:
    """Which system a verdict favours: 'a', 'b', 'tie', or None for an error."""
    if verdict == "C":
        return "tie"
    if verdict not in ("A", "B"):
        return None
    first_is_a = order == "ab"
    return "a" if (verdict == "A") == first_is_a else "b"


def item_outcome(verdict_ab: str | None, verdict_ba: str | None) -> str:
    """Both orders agree on X: X wins. X once and a tie once: slight win for X. The two
    disagree: tie. Two ties: tie. An error in either order: error."""
    first, second = _system(verdict_ab, "ab"), _system(verdict_ba, "ba")
    if first is None or second is None:
        return ERROR
    if first == second:
        return TIE if first == "tie" else f"win_{first}"
    if "tie" in (first, second):
        winner = second if first == "tie" else first
        return f"slight_{winner}"
    return TIE


def bootstrap_ci(scores: list[int], samples: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of the mean of 0/1 item scores."""
    if not scores:
        return [0.0, 0.0]
    rng = random.Random(seed)
    n = len(scores)
    means = sorted(sum(rng.choices(scores, k=n)) / n for _ in range(samples))
    return [means[int(0.025 * samples)], means[min(samples - 1, int(0.975 * samples))]]


def tally(outcomes: list[str], name_a: str, name_b: str) -> dict:
    """Counts and win rates of one group of items; n counts errors too."""
    counts = Counter(outcomes)
    n = len(outcomes)

    def side(system: str, name: str) -> dict:
        scores = [int(o in (f"win_{system}", f"slight_{system}")) for o in outcomes]
        return {
            "name": name,
            "wins": counts[f"win_{system}"],
            "slight_wins": counts[f"slight_{system}"],
            "win_rate": sum(scores) / n if n else 0.0,
            "ci95": bootstrap_ci(scores),
        }

    return {"n": n, "ties": counts[TIE], "errors": counts[ERROR], "a": side("a", name_a), "b": side("b", name_b)}


def rating_stats(ratings: list[float | None]) -> dict:
    """Single-answer grading of one group: `mean` counts a judgment without a rating as
    -1, as the reference's averaging script does (its figure); `mean_graded` averages
    only the ratings; `errors` counts the judgments without one."""
    graded = [r for r in ratings if r is not None]
    n = len(ratings)
    return {
        "n": n,
        "graded": len(graded),
        "errors": n - len(graded),
        "mean": sum(r if r is not None else -1.0 for r in ratings) / n if n else None,
        "mean_graded": sum(graded) / len(graded) if graded else None,
    }
