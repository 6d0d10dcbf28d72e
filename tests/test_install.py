"""Installing the plugin into a working axolotl environment changes none of its stack.

Run on each supported stack (`make test`: axolotl 0.19 on Python 3.11; `make
test-axolotl-0.21`: axolotl 0.21 on Python 3.12), each venv built as a user's is:
torch, then axolotl, then this package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement

from tests.helpers.models import cpu_config
from tests.helpers.rows import REPO, ROWS, write_jsonl

STACK = ("axolotl", "transformers", "torch", "peft", "datasets", "trl", "accelerate", "tokenizers")


def test_pip_would_change_nothing_of_the_stack():
    # --no-index: pip must resolve every requirement from what is installed, so any
    # upgrade or downgrade it wanted would fail here with the requirement's name
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--no-build-isolation",
            "--quiet",
            "--report",
            "-",
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    planned = {
        item["metadata"]["name"].lower(): item["metadata"]["version"] for item in json.loads(result.stdout)["install"]
    }
    assert set(planned) == {"axolotl-plug"}, planned


def test_the_installed_stack_is_the_one_axolotl_pins():
    """Every stack package axolotl names is installed at a version axolotl accepts: our
    install did not move one of them off axolotl's pins."""
    pins = [Requirement(r) for r in metadata.requires("axolotl") or []]
    checked = []
    for pin in pins:
        if pin.name.lower() in STACK and (pin.marker is None or pin.marker.evaluate({"extra": ""})):
            installed = metadata.version(pin.name)
            assert pin.specifier.contains(installed, prereleases=True), f"{pin.name} {installed} breaks axolotl's {pin}"
            checked.append(pin.name.lower())
    assert {"transformers", "peft", "datasets", "torch"} <= set(checked)


def repository_copy(folder: Path) -> Path:
    """The tracked files of the repository (links kept as links), as a clone has them:
    the wheel is built from them and nothing else."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in filter(None, listed.stdout.split("\0")):
        source, target = REPO / name, folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        elif source.is_file():
            shutil.copy2(source, target)
    return folder


def test_the_built_wheel_works_next_to_axolotl(tmp_path, tiny_model_dir):
    """`make dist`'s build (the sdist, then the wheel from it) installed as a wheel, not
    editable and not the source tree, into a venv that sees this stack's axolotl: the
    commands run, the shipped templates are found by name, and the wheel holds every
    module and template of the package."""
    source = repository_copy(tmp_path / "source")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("axolotl_plug-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "axolotl_plug", "prompt_templates"], cwd=REPO, capture_output=True, text=True
    )
    needed = {
        name if name.startswith("axolotl_plug/") else f"axolotl_plug/{name}"
        for name in tracked.stdout.split()
        if name.endswith((".py", ".jinja"))
    }
    assert len(needed) > 60 and needed - shipped == set()
    entry_points = next(n for n in shipped if n.endswith(".dist-info/entry_points.txt"))
    assert "plug = axolotl_plug.cli:plug" in zipfile.ZipFile(wheel).read(entry_points).decode()

    # a venv of its own, with the wheel in it, that reaches this stack's packages through
    # a .pth line: the stack's .pth files (the editable install's among them) stay inactive
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True
    ).stdout.strip()
    Path(site, "stack.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", site, str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AXOLOTL_DO_NOT_TRACK": "1", "PYTHONPATH": ""}
    axolotl = [str(python), "-c", "import sys; from axolotl.cli.main import main; sys.argv[0] = 'axolotl'; main()"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    where = run(str(python), "-c", "import axolotl_plug; print(axolotl_plug.__file__)")
    assert where.stdout.strip() == str(Path(site) / "axolotl_plug" / "__init__.py"), where.stderr[-2000:]
    helped = run(*axolotl, "plug", "--help")
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "audit" in helped.stdout and "generate" in helped.stdout and "demo-model" in helped.stdout
    demo = run(*axolotl, "plug", "demo-model", "--help")
    assert demo.returncode == 0 and "--output" in demo.stdout, demo.stderr[-2000:]

    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    cfg = cpu_config(tiny_model_dir, tmp_path, data, {"target_language": "zh", "chat_template": "plug_tulu"})
    config = tmp_path / "cfg.yml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    audited = run(*axolotl, "plug", "audit", str(config), "-n", "1")
    assert audited.returncode == 0, audited.stderr[-3000:]
    assert "rows in: 4  kept: 4  dropped: 0" in audited.stdout
    assert "<|assistant|>\n⟦English instruction:\n" in audited.stdout  # plug_tulu, found inside the wheel
