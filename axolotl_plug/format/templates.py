"""Finding jinja templates: the shipped ones (prompt_templates/) or a user's file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

DEFAULT_ANSWER_TEMPLATE = "plug_response"


def template_dir() -> Path:
    """Folder of the shipped templates: axolotl_plug/prompt_templates, in the wheel a
    folder, in the repository a link to the top-level prompt_templates/."""
    return Path(__file__).parents[1] / "prompt_templates"


def shipped_templates() -> list[str]:
    return sorted(p.stem for p in template_dir().glob("*.jinja"))


def resolve_template(ref: str, config_dir: str | Path | None = None) -> Path:
    """Turn a template reference into a file: a shipped name, or a path.

    Relative paths are tried against the working directory, then the config's folder.
    """
    shipped = template_dir() / f"{ref}.jinja"
    if "/" not in ref and shipped.is_file():
        return shipped.resolve()  # the same path a second call, given this one, returns
    candidates = [Path(ref).expanduser()]
    if config_dir is not None and not Path(ref).is_absolute():
        candidates.append(Path(config_dir) / ref)
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(
        f"template {ref!r} not found: give a path to a .jinja file or one of the shipped "
        f"names {', '.join(shipped_templates())}"
    )


@lru_cache(maxsize=32)
def read_template(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")
