"""The system refusing a write (disk full, read-only file system, permission denied)
ends a command with one line naming the file; an appended file keeps only whole lines,
and the run resumes once the cause is gone."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers.commands import plug_in_process
from tests.helpers.engine import FakeEngine
from tests.helpers.rows import pivot_rows, target_rows, write_jsonl

ITEMS = 30
ANSWER = "English response:\n" + "Fine. " * 20 + "\n\n中文回复：\n" + "很好。" * 20


def mounted_tmpfs(folder: Path, size: str) -> bool:
    """A small tmpfs at `folder` when this process may mount one (root), else False."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]).returncode == 0


def remount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True)


def generate_args(tmp_path: Path, out: Path, url: str) -> list[str]:
    model_dir = tmp_path / "model"
    model_dir.mkdir(exist_ok=True)
    (model_dir / "plug.json").write_text(json.dumps({"target_language": "zh", "sequence_len": 512}))
    bench = write_jsonl(tmp_path / "bench.jsonl", [{"id": i, "instruction": f"问题 {i}"} for i in range(ITEMS)])
    return [
        "generate",
        "--model-dir",
        str(model_dir),
        "--instructions",
        str(bench),
        "--max-new-tokens",
        "16",
        "--concurrency",
        "1",
        "--base-url",
        url,
        "--output",
        str(out),
    ]


def whole_lines(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")  # no torn last line
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def test_disk_full_names_the_file_keeps_whole_lines_and_resumes(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "answers.jsonl"
    # three pages: one for the lock file, two for the answers (about 20 of the 30 lines)
    on_tmpfs = mounted_tmpfs(disk, "12k")
    try:
        if on_tmpfs:
            reason, limit = "No space left on device", None
        else:  # where no tmpfs can be mounted: a file-size limit stands in for the full disk
            reason, limit = "File too large", 8192

        def limited():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        with FakeEngine(lambda body, n: ANSWER) as server:
            result = subprocess.run(
                [sys.executable, "-m", "axolotl_plug", *generate_args(tmp_path, out, server.url)],
                capture_output=True,
                text=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
                preexec_fn=limited if limit else None,
                timeout=300,
            )
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == (
            f"Error: {out}: {reason}; the file keeps every whole line before it: run the same command again to resume"
        )
        kept = whole_lines(out)
        assert 5 < len(kept) < ITEMS
        if on_tmpfs:
            remount(disk, "size=1m")  # space freed
        with FakeEngine(lambda body, n: ANSWER) as server:
            result = plug_in_process(*generate_args(tmp_path, out, server.url))
        assert result.returncode == 0, result.stderr[-2000:]
        assert len(server.requests) == ITEMS - len(kept)
        assert sorted(row["id"] for row in whole_lines(out)) == list(range(ITEMS))
    finally:
        if on_tmpfs:
            subprocess.run(["umount", str(disk)])


def test_read_only_file_system_names_the_output(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not mounted_tmpfs(disk, "1m"):
        pytest.skip("mounting a tmpfs needs root")
    try:
        out = disk / "judged"
        remount(disk, "ro")
        answers = write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "output": "好"}])
        bench = write_jsonl(tmp_path / "bench.jsonl", [{"id": 1, "instruction": "问题", "lang": "zh"}])
        with FakeEngine(lambda body, n: "[[A]]") as server:
            result = plug_in_process(
                "judge",
                "--instructions",
                str(bench),
                "--a",
                str(answers),
                "--b",
                str(answers),
                "--judge-model",
                "j",
                "--base-url",
                server.url,
                "--output",
                str(out),
            )
        assert result.returncode == 1
        assert result.stderr.strip() == f"Error: {out}: Read-only file system; nothing was written"
        assert server.requests == []
    finally:
        subprocess.run(["umount", str(disk)])


def test_permission_denied_names_the_file(tmp_path):
    """As a user who may not write the output's folder (an unprivileged user namespace,
    where even root is nobody to the files outside it)."""
    shared = Path(tempfile.mkdtemp())
    try:
        shared.chmod(0o755)
        closed = shared / "closed"
        closed.mkdir(mode=0o755)
        out = closed / "rows.jsonl"

        pivot = write_jsonl(shared / "pivot.jsonl", pivot_rows())
        target = write_jsonl(shared / "target.jsonl", target_rows())
        for path in (pivot, target):
            path.chmod(0o644)
        args = ["data", "build", "--pivot", str(pivot), "--target", str(target), "--lang", "zh", "--output", str(out)]
        closed.chmod(0o555)
        command = [sys.executable, "-m", "axolotl_plug", *args]
        if os.geteuid() == 0:  # root writes anywhere: run as nobody, in a user namespace
            if not shutil.which("unshare") or subprocess.run(["unshare", "--user", "true"]).returncode:
                pytest.skip("no unprivileged user namespace here")
            command = ["unshare", "--user", *command]
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert result.returncode == 1
        assert result.stderr.strip() == f"Error: {out}: Permission denied; nothing was written"
        assert not out.exists()
    finally:
        (shared / "closed").chmod(0o755)
        shutil.rmtree(shared)
