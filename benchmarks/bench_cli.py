"""Wall time of the CLI's fast paths with every plugin installed (target: < 1 s each).

Also reports whether torch was imported (it must not be): ``python -X importtime``
lists every module import; we count the torch ones.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

CLI = str(Path(sys.executable).with_name("cellxai"))
COMMANDS = [["--help"], ["plugins", "list"], ["plugins", "list", "--format", "json"]]


def wall(args: list[str], repeat: int = 5) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([CLI, *args], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def torch_imports(args: list[str]) -> int:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import sys; from cellxai_core.cli import main; sys.exit(main({args!r}))"],
        capture_output=True, text=True,
    )
    return sum(1 for line in proc.stderr.splitlines() if line.rstrip().split("|")[-1].strip().split(".")[0] == "torch")


def main() -> None:
    print(f"{'command':32} {'median s':>9} {'max s':>7} {'torch modules':>14}")
    for args in COMMANDS:
        times = wall(args)
        print(f"{'cellxai ' + ' '.join(args):32} {statistics.median(times):9.3f} {max(times):7.3f} {torch_imports(args):14d}")


if __name__ == "__main__":
    main()
