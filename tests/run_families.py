"""Run the test suite as independent families in parallel pytest processes (what ``make test`` calls).

The soak (``tests/reliability/test_soak.py``, ``-m soak``) spends its minutes mostly waiting on short tokens to
expire, so it runs beside everything else instead of after it. Each family is its own pytest process with its own
emulator, servers and tables, so they share nothing but the machine's database servers (each test makes fresh
tables). The first family's output streams; the others' is printed, whole, when they end. The exit status is the
first failing family's (0 when all pass), so a failure in any family fails the run.

    python tests/run_families.py [pytest arguments passed to every family]

A ``-m`` among those arguments would replace each family's own (both would run the same tests): to select by
marker, run pytest directly.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: pytest's exit status when a run selected no test.
NO_TESTS = 5
#: name -> the marker expression selecting it; together they select every test exactly once.
FAMILIES = {
    "everything but the soak": "not soak",
    "soak": "soak",
}


def main(argv: list[str]) -> int:
    """Start every family, wait for all, print the buffered output, and return the run's exit status."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="authkit-families-") as folder:
        runs: list[tuple[str, subprocess.Popen[bytes], Path | None]] = []
        for index, (name, marker) in enumerate(FAMILIES.items()):
            command = [sys.executable, "-m", "pytest", "-m", marker, *argv]
            if index == 0:
                runs.append((name, subprocess.Popen(command), None))
                continue
            log = Path(folder) / f"family-{index}.log"
            with log.open("wb") as out:
                runs.append((name, subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT), log))
        codes = []
        summary = []
        try:
            for name, process, log in runs:
                code = process.wait()
                codes.append(code)
                if log is not None:
                    sys.stdout.write(f"\n{'=' * 30} family: {name} {'=' * 30}\n")
                    sys.stdout.write(log.read_text(errors="replace"))
                outcome = {0: "passed", NO_TESTS: "no test selected"}.get(code, f"FAILED (exit {code})")
                summary.append(f"{name}: {outcome}")
        finally:  # interrupted: stop the others too
            for _, process, _ in runs:
                if process.poll() is None:
                    process.terminate()
                    process.wait()
        failed = [code for code in codes if code not in (0, NO_TESTS)]
        # arguments that select a few tests leave a family empty: that is not a failure, unless every family is
        status = failed[0] if failed else (NO_TESTS if all(code == NO_TESTS for code in codes) else 0)
        sys.stdout.write(f"\n{'=' * 30} families ({time.monotonic() - started:.0f} s) {'=' * 30}\n")
        sys.stdout.write("\n".join(summary) + "\n")
        sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
