"""One run per output: a second run on the same output refuses at once.

A run holds an exclusive `flock` on a lock file beside its output (`answers.jsonl.lock`
for a file, `.plug.lock` inside an output folder) for as long as it runs. The lock is
the kernel's, tied to the process: a run that is killed, even with SIGKILL, leaves
nothing that blocks the next one. The lock file holds the running process's id, so
the refusal can name it, and is removed when the run ends.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from axolotl_plug.io.records import refused


class OutputInUse(OSError):
    """Another live process is writing this output."""


def lock_path(output: Path, folder: bool) -> Path:
    return output / ".plug.lock" if folder else output.with_name(output.name + ".lock")


@contextmanager
def one_run(output: Path, folder: bool = False) -> Iterator[None]:
    """Hold `output` (a file, or with `folder` a folder) for this process until the
    block ends; raise OutputInUse naming the output and the other run's process id when
    another process holds it."""
    path = lock_path(output, folder)
    _refuse_a_file_of_someone_else(path)
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise refused(output, exc, "nothing was written") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _holder(fd)
            os.close(fd)
            raise OutputInUse(
                f"{output} is being written by another run (process {other}); "
                "wait for it to end or stop it, then run the command again: it resumes"
            ) from None
        # the run that held it before may have removed the file after we opened it:
        # then this lock guards nothing, and we lock the file now at the path
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # still locked: a run that opens it now retries
        os.close(fd)


def _holder(fd: int) -> str:
    """The process id the holder writes into the lock file; it writes it just after it
    takes the lock, so a run that finds the lock taken waits a moment for it."""
    for _ in range(40):
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
        if text:
            return text
        time.sleep(0.025)
    return "unknown"


def _refuse_a_file_of_someone_else(path: Path) -> None:
    """A lock file holds a process id or nothing; any other file at that path is not
    ours to write into and remove."""
    try:
        text = path.read_bytes()[:64]
    except FileNotFoundError:
        return
    except IsADirectoryError:
        text = b"a folder"
    if not re.fullmatch(rb"\s*\d*\s*", text):
        raise OSError(f"{path} is in the way: this command keeps its lock there; move that file away")
