"""The docs say what the code does: the config reference is generated from args.py and
current, every link goes to a file and heading that exist, and the README stays short."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from axolotl_plug.args import reference_markdown

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_config_reference_is_current():
    assert (REPO / "docs" / "config.md").read_text(encoding="utf-8") == reference_markdown(), (
        "docs/config.md is stale: run `make docs`"
    )


def test_the_config_reference_has_every_key():
    from axolotl_plug.args import PlugConfig, PlugEvalConfig, PlugFields

    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    for model, prefix in ((PlugConfig, "plug"), (PlugFields, "plug.fields"), (PlugEvalConfig, "plug.eval")):
        for name in model.model_fields:
            assert f"| `{prefix}.{name}` |" in text


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_goes_somewhere():
    # the docs pages, and the module docstrings that link to them
    for page in [*PAGES, *sorted((REPO / "axolotl_plug").rglob("*.py"))]:
        text = page.read_text(encoding="utf-8")
        if page.suffix == ".py":
            text = ast.get_docstring(ast.parse(text)) or ""
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith("http"):
                continue
            path, _, fragment = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: {target}"
            if fragment:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)
                assert fragment in {anchor(h) for h in headings}, f"{page.name}: {target}"


def test_readme_stays_short():
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def test_the_module_map_names_every_module_and_no_other():
    text = (REPO / "docs" / "development.md").read_text(encoding="utf-8")
    section = text[text.index("## How the package is laid out") :]
    named = {name for name in re.findall(r"`([\w/]+\.py)`", section) if not name.startswith("tests/")}
    package = REPO / "axolotl_plug"
    modules = {path.relative_to(package).as_posix() for path in package.rglob("*.py")}
    assert modules - named == set(), "docs/development.md: the module map misses these"
    assert named - modules == set(), "docs/development.md: the module map names modules that do not exist"
