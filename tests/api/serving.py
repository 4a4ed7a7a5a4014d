"""A real ``seawarden serve`` (or ``run``) process for the API tests: started, its URL read
from its ``listening on URL`` line, stopped with SIGINT like an operator's Ctrl-C."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def read_line(stream: IO[str], *, timeout_s: float) -> str:
    """One line from a subprocess pipe, or "" after ``timeout_s`` (never blocks longer)."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            return ""
    return stream.readline()


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str = ""
    stderr: str = field(default="")  # what it wrote, once stopped

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode


@contextmanager
def seawarden_server(
    *args: str | Path,
    cwd: Path | None = None,
    start_timeout_s: float = 60,
    stop_timeout_s: float = 15,
) -> Iterator[Served]:
    """``seawarden *args`` (a ``serve`` or ``run``) until the block ends; then its stderr
    and exit code are on the yielded :class:`Served`."""
    # stderr to a file, not a pipe read only at the end: a server that logs more than the
    # pipe holds (64 KB) would block on it
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from seawarden.cli import main; main()", *map(str, args)],
            stderr=err,
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert proc.stdout is not None
        served = Served(proc)
        try:
            line = read_line(proc.stdout, timeout_s=start_timeout_s)
            assert line.startswith("listening on http://127.0.0.1:"), line
            served.url = line.split("listening on ")[1].strip()
            yield served
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            err.seek(0)
            served.stderr = err.read()
            proc.stdout.close()
