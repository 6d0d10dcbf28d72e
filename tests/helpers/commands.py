"""Our commands and axolotl's, run as a user runs them: in a process of their own,
or in this one through click's runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.servers import BIN, REPO

# `axolotl train --launcher python`: axolotl's own single-process launcher, training in the
# `axolotl` process instead of a second one started by `accelerate launch` (seconds of
# start-up saved per run); test_axolotl_train_with_eval_callback_and_saved_template keeps
# the default launcher, as a user runs it
PYTHON_LAUNCHER = ("--launcher", "python")


def run_axolotl(
    *args: str, cwd: Path = REPO, timeout: int = 600, input: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "AXOLOTL_DO_NOT_TRACK": "1",
        **(env or {}),
    }
    return subprocess.run(
        [str(BIN / "axolotl"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input if input is not None else "",
    )


def plug_command(*args: str):
    """`python -m axolotl_plug ARGS` (the same click group as `axolotl plug`, without
    axolotl's own start-up, seconds per call), as a user runs it from the repository;
    returns the CompletedProcess. `tests/test_cli.py` checks that both list the same
    commands."""
    return subprocess.run(
        [sys.executable, "-m", "axolotl_plug", *args],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        input="",
        cwd=REPO,
    )


@contextmanager
def host_state_restored():
    """Put back what a command run in this process changes for the rest of it: the log
    levels and variables `quiet_host` sets, and axolotl's process-wide plugin registry."""
    import logging

    from axolotl_plug.cli import HOST_LOG_VARIABLES, HOST_LOGGERS

    saved = {name: os.environ.pop(name, None) for name, _ in HOST_LOG_VARIABLES}
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in HOST_LOGGERS)]
    levels = [logger.level for logger in loggers]
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        for name, value in saved.items():  # commands this worker starts later must not inherit them
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
        try:
            from axolotl.integrations.base import PluginManager
        except ModuleNotFoundError:
            return
        PluginManager.get_instance().plugins.clear()


def plug_in_process(*args: str, input: str | None = None):
    """The same click group as `plug_command`, run in this test process by click's runner,
    for tests about what a command writes and prints rather than about its process: the
    worker has paid for importing torch, transformers and axolotl already, so a call costs
    what the command does (an audit: 1 s instead of 10). Returns a CompletedProcess like
    `plug_command`; an exception the command group does not turn into a message is raised."""
    from subprocess import CompletedProcess

    from click.testing import CliRunner

    from axolotl_plug.cli import plug

    with host_state_restored():
        result = CliRunner().invoke(plug, list(args), input=input, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def kill_when(args: list[str], path, lines: int, timeout: float = 120.0) -> int:
    """Start `python -m axolotl_plug ARGS`, SIGKILL it once `path` holds at least `lines`
    lines (a crash in the middle of the run), and return how many complete lines the
    file holds then."""
    process = subprocess.Popen(
        [sys.executable, "-m", "axolotl_plug", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if path.is_file() and path.read_bytes().count(b"\n") >= lines:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the command ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    return path.read_bytes().count(b"\n")
