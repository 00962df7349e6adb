"""Cold start of `flasker --help` next to `flask --help`, measured in the same run.

    uv run python bench/cli_startup.py            # 15 runs of each after a warm-up
    uv run python bench/cli_startup.py -n 30

Each run is a new process started from the virtual environment's own scripts, in an empty
temporary folder (so `flask` finds no app and `flasker` no cfg), with the runs of the commands
interleaved so that a busy machine slows them alike. The table gives the median and the minimum
wall time, and the ratio of each median to `flask --help`'s. Below it: how many modules
`flasker --help` imports, whether Celery or SQLAlchemy are among them, and its import time per
package (from `python -X importtime`).

`flasker --help` must not import Celery, SQLAlchemy or Flask (packages/flasker-core/tests/
test_cli_startup.py asserts it); this script shows what that buys.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

SCRIPTS = Path(sysconfig.get_path("scripts"))
PYTHON = sys.executable

# Run in a fresh interpreter: invoke a CLI's main() with argv, then report what got imported.
IMPORTS_SNIPPET = """
import contextlib, io, json, sys
before = set(sys.modules)
sys.argv = {argv!r}
from {module} import {function} as main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
loaded = set(sys.modules) - before
roots = sorted({{name.partition(".")[0] for name in loaded}})
print(json.dumps({{"count": len(loaded), "total": len(sys.modules), "roots": roots}}))
"""

WATCHED = ("celery", "kombu", "sqlalchemy", "alembic", "flask", "jinja2", "werkzeug", "click")


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("FLASK_APP", "FLASKER_CONFIG", "PYTHONSTARTUP", "PYTHONPROFILEIMPORTTIME"):
        env.pop(name, None)
    return env


def run_once(argv: list[str], cwd: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace")
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{stderr}")
    return elapsed


def imports_of(module: str, function: str, argv: list[str], cwd: str, env: dict[str, str]):
    code = IMPORTS_SNIPPET.format(module=module, function=function, argv=argv)
    result = subprocess.run(
        [PYTHON, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def costliest_imports(cwd: str, env: dict[str, str], top: int = 8) -> list[tuple[str, float]]:
    """Import time (ms) of `python -m flasker --help` summed per top-level package, costliest first.

    Self times are summed, so a package is charged for its own modules only, not for what they
    pull in from other packages (flasker.globals importing werkzeug counts under werkzeug).
    """
    result = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "flasker", "--help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, float] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        root = name.strip().partition(".")[0]
        totals[root] = totals.get(root, 0.0) + int(own) / 1000
    return sorted(totals.items(), key=lambda row: row[1], reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=15, help="timed runs of each command")
    args = parser.parse_args()

    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "flask --help": [str(SCRIPTS / "flask"), "--help"],
        "flasker --help": [str(SCRIPTS / "flasker"), "--help"],
    }
    for label, argv in commands.items():
        if not Path(argv[0]).exists():
            raise SystemExit(f"{label}: {argv[0]} not found; run 'uv sync --all-packages' first")

    env = clean_env()
    with tempfile.TemporaryDirectory(prefix="flasker-bench-") as cwd:
        for argv in commands.values():  # warm-up: bytecode caches, page cache
            run_once(argv, cwd, env)
        times: dict[str, list[float]] = {label: [] for label in commands}
        for _ in range(args.runs):
            for label, argv in commands.items():
                times[label].append(run_once(argv, cwd, env))

        flasker_imports = imports_of("flasker.cli", "main", ["flasker", "--help"], cwd, env)
        flask_imports = imports_of("flask.cli", "main", ["flask", "--help"], cwd, env)
        costly = costliest_imports(cwd, env)

    reference = statistics.median(times["flask --help"])
    print(f"Cold start, {args.runs} runs each after a warm-up (Python {sys.version.split()[0]})\n")
    print(f"{'command':<16} {'median ms':>10} {'min ms':>8} {'vs flask --help':>16}")
    print("-" * 53)
    for label, samples in times.items():
        median = statistics.median(samples)
        print(
            f"{label:<16} {median * 1000:>10.1f} {min(samples) * 1000:>8.1f} "
            f"{median / reference:>15.2f}x"
        )

    print("\nModules imported by the command (beyond the interpreter's own start-up):")
    for label, found in (("flask --help", flask_imports), ("flasker --help", flasker_imports)):
        watched = ", ".join(
            f"{name} {'yes' if name in found['roots'] else 'no'}" for name in WATCHED
        )
        print(f"  {label:<15} {found['count']:>4} modules; {watched}")
    heavy = [name for name in ("celery", "sqlalchemy") if name in flasker_imports["roots"]]
    verdict = f"IMPORTED {', '.join(heavy)}" if heavy else "neither imported"
    print(f"\nflasker --help and celery / sqlalchemy: {verdict}")
    print("Import time by package in `python -X importtime -m flasker --help` (self times):")
    for name, ms in costly:
        print(f"  {name:<24} {ms:>7.1f} ms")


if __name__ == "__main__":
    main()
