"""Where a Python server's time goes under load: py-spy's top frames by own time, if installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path


def top_frames(pid: int, load: Callable[[], object], seconds: float = 4.0, lines: int = 12) -> list[str]:
    """Samples process `pid` for `seconds` while `load` runs in a thread (it should run a little
    longer); one line a frame, its share of the samples first. Empty without py-spy."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return []
    raw = Path(tempfile.mkstemp(suffix=".txt")[1])
    loader = threading.Thread(target=load)
    loader.start()
    try:
        subprocess.run(
            [spy, "record", "-p", str(pid), "-d", str(round(seconds)), "-f", "raw", "-o", str(raw), "--nonblocking"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    finally:
        loader.join()
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines() if raw.exists() else []:
        stack, _, count = line.rpartition(" ")
        frame = stack.split(";")[-1].strip() or "(native code, no Python frame)"
        own[frame] = own.get(frame, 0) + int(count)
        total += int(count)
    raw.unlink(missing_ok=True)
    top = sorted(own.items(), key=lambda item: -item[1])[:lines]
    return [f"{count / total:6.1%}  {frame[:110]}" for frame, count in top] if total else []
