"""The console's pages for a small and a large project, measured in the same run.

    uv run python bench/console.py             # 40 renders of each page, ~1 minute
    uv run python bench/console.py --quick     # 10 renders, a rough table
    uv run python bench/console.py -n 100

Issue 6 ("How it is built"): a console page must cost about the same however big the project
grows. Two projects are written to a temporary folder and started in this process:

- small: 8 models behind flasker-api, 30 tasks sent from the console, 60 activity entries
  (a full page of each: the endpoints tables show 50 rows, tasks 25, activity 50);
- large: 40 models, 500 tasks, 1,000 activity entries;

both on SQLite and the embedded broker, with no sign-in (everyone is an admin). Each page is
rendered through the Flask test client, small and large alternating request by request (so a
busy machine slows them alike), after one warm-up render that creates the console's lazy
tables. The table gives median and p90 milliseconds, the ratio large / small (target: flat,
at most 1.5x), SQL statements per render (SQLAlchemy's `before_cursor_execute`) and broker
broadcasts per render (both counted by `flasker.testing.WorkCounter`, as the test counts them),
and, for scale, the ratio of the small page to a baseline page that only renders the console's
layout (same chrome, no data) in the same run.
packages/flasker-console/tests/test_counts.py asserts the counts; this script shows the time.

Then, issue 15, with a real `flasker worker` running on the small project: the server time of
the workers table (`/console/workers/table`, the page's 3 s poll), rendered from the live state
(heartbeats heard on the event stream) and the background inspect rounds, with its broadcasts
per render; and Flower's workers page (`flasker flower`, same broker, same worker) in the same
run, over loopback HTTP (`--no-flower` skips it).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flasker.testing import WorkCounter

#: Pages by path under /console, in the order of the navigation bar.
PAGES = ("/", "/config", "/config/raw", "/tasks", "/workers", "/endpoints", "/activity")
#: Large / small median at most this: the pages stay flat.
TARGET = 1.5
BASELINE = "/bench/layout"

CFG = """\
[PROJECT]
NAME = Bench{size}
MODULES = {module}
DB_URL = sqlite:///{folder}/bench.sqlite

[APP]
SECRET_KEY = console-bench-secret-key-0123456789

[LOGGING]
LEVEL = ERROR
"""

#: `count` models in a chain (each points at the previous), the API over them, one task.
SOURCE = """\
from sqlalchemy import Column, ForeignKey, Integer, Unicode

from flasker import current_project
from flasker.model import Model
from flasker_api import APIManager
from flasker_console import ConsoleManager

api = current_project.register_manager(APIManager())
console = current_project.register_manager(ConsoleManager(inspect_timeout={inspect}))
celery = current_project.celery
MODELS = []

for number in range({count}):
    namespace = {{
        "__tablename__": "{module}_thing_%d" % number,
        "__module__": __name__,
        "id": Column(Integer, primary_key=True),
        "name": Column(Unicode(64), nullable=False),
    }}
    if MODELS:
        namespace["parent_id"] = Column(ForeignKey(MODELS[-1].__tablename__ + ".id"))
    model = type("Thing%d" % number, (Model,), namespace)
    MODELS.append(model)
    api.add_model(model)


@celery.task(name="{module}.add")
def add(x: int, y: int = 2):
    return x + y
"""

LAYOUT_ONLY = """\
{% extends "flasker_console/layout.html" %}
{% block title %}Baseline{% endblock %}
{% block content %}<h1 class="h3">Baseline</h1><p>The console's layout, no data.</p>{% endblock %}
"""

#: small holds a page of everything (endpoints 50 rows a table, tasks 25, activity 50), so the
#: ratio measures what growing stored data costs, not the cost of showing more rows.
SIZES = {"small": (8, 30, 60), "large": (40, 500, 1000)}


def build(root: Path, size: str, inspect_timeout: float) -> Any:
    """Write and start one project (models, tasks, activity rows of `size`)."""
    from flasker import Project

    models, tasks, entries = SIZES[size]
    folder = root / size
    folder.mkdir()
    module = f"bench_console_{size}"
    (folder / f"{module}.py").write_text(
        SOURCE.format(module=module, count=models, inspect=inspect_timeout), encoding="utf-8"
    )
    cfg = folder / "default.cfg"
    cfg.write_text(CFG.format(size=size, module=module, folder=folder), encoding="utf-8")
    project = Project(cfg)
    project.start()
    add_rows(project, module, tasks, entries)
    if size == "small":
        add_baseline(project)
    return project


def add_rows(project: Any, module: str, tasks: int, entries: int) -> None:
    from flasker_console import activity
    from flasker_console import tasks as store

    store.ensure_table(project)
    activity.ensure_table(project)
    task, entry = store.task_model(), activity.activity_model()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with project.db.Session() as session:
        for number in range(tasks):
            failed = number % 3 == 0
            session.add(
                task(
                    task_id=f"00000000-0000-4000-8000-{number:012d}",
                    name=f"{module}.add",
                    args=json.dumps([number]),
                    kwargs="{}",
                    sent_by="ops@example.test",
                    sent_at=start + timedelta(seconds=number),
                    state="FAILURE" if failed else "SUCCESS",
                    result=None if failed else str(number + 2),
                    error_type="LookupError" if failed else None,
                    error_message="no such thing" if failed else None,
                    done_at=start + timedelta(seconds=number + 1),
                )
            )
        for number in range(entries):
            session.add(
                entry(
                    who="ops@example.test",
                    action="cfg.saved" if number % 2 else "task.sent",
                    target=f"default.cfg [APP] {number}",
                    detail=f"-DEBUG = false\n+DEBUG = true\n# {number}",
                    at=start + timedelta(seconds=number),
                )
            )
        session.commit()


def add_baseline(project: Any) -> None:
    """A page that renders the console's layout with the context its pages get, and no data."""
    from flask import current_app, render_template
    from flask_wtf.csrf import generate_csrf

    from flasker_console.access import current_operator
    from flasker_console.views import htmx

    compiled: list[Any] = []

    def layout_only() -> str:
        manager = current_app.extensions["flasker_console"]
        if not compiled:  # compiled once, as the pages' own templates are
            compiled.append(current_app.jinja_env.from_string(LAYOUT_ONLY))
        return render_template(
            compiled[0],
            htmx=htmx,
            console=manager,
            project=manager.project,
            operator=current_operator(),
            csrf_token=generate_csrf,
            auth_logout=None,
        )

    project.app.add_url_rule(BASELINE, "bench_layout", layout_only)


def getter(project: Any, path: str) -> Callable[[], None]:
    client = project.app.test_client()

    def get() -> None:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        response.close()

    return get


def measure(calls: dict[str, Callable[[], None]], runs: int) -> dict[str, list[float]]:
    """Milliseconds per call of each, alternating the calls run by run."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call()  # warm-up: lazy tables, template compilation
    for _ in range(runs):
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - began) * 1000)
    return times


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def counts(project: Any, path: str) -> tuple[int, int]:
    get = getter(project, "/console" + path)
    get()
    with WorkCounter(project) as counter:
        get()
    return counter.queries, counter.broadcasts


def fail(message: str) -> None:
    raise SystemExit(message)


def live_workers(project: Any, root: Path, runs: int, flower: bool) -> None:
    """The workers table with a worker running, beside Flower's workers page."""
    import urllib.request

    from flasker.testing import background, free_port, wait_for, worker_process

    cfg = str(project.config.path)
    client = project.app.test_client()

    def table() -> str:
        response = client.get("/console/workers/table", headers={"HX-Request": "true"})
        if response.status_code != 200:
            raise RuntimeError(f"/console/workers/table answered {response.status_code}")
        return response.get_data(as_text=True)

    hostname = "bench@console"
    print("\nstarting a worker ...", file=sys.stderr, flush=True)
    with worker_process(cfg, root / "worker.log", "-n", hostname):
        wait_for(
            lambda: 'data-online="true"' in table(),
            90,
            what="the worker online in the workers table",
            log=root / "worker.log",
            on_timeout=fail,
        )
        roster = project.app.extensions["flasker_console"].workers_roster()
        roster.wait(30)
        rows: list[tuple[str, list[float], str]] = []
        times = measure({"table": table}, runs)["table"]
        with WorkCounter(project) as work:
            for _ in range(runs):
                table()
        rows.append(
            ("console /console/workers/table", times, f"{work.broadcasts / runs:.2f}/render")
        )
        if flower:
            port = free_port()
            url = f"http://127.0.0.1:{port}/workers"
            command = [sys.executable, "-m", "flasker", "-c", cfg, "flower", "--port", str(port)]
            print("starting Flower ...", file=sys.stderr, flush=True)
            with background(command, root / "flower.log"):

                def flower_page() -> str:
                    with urllib.request.urlopen(url, timeout=10) as answer:
                        return str(answer.read().decode())

                def listed() -> bool:
                    try:
                        return hostname in flower_page()
                    except OSError:
                        return False

                wait_for(
                    listed,
                    90,
                    what="the worker on Flower's workers page",
                    log=root / "flower.log",
                    interval=0.5,
                    on_timeout=fail,
                )
                flower_times = measure({"flower": flower_page}, runs)
                rows.append(("Flower /workers (HTTP, loopback)", flower_times["flower"], "-"))
    print(
        f"\nWorkers page with one worker running ({runs} renders, small project, embedded broker)\n"
    )
    head = f"{'page':<34} {'median ms':>10} {'p90 ms':>8} {'broadcasts':>12}"
    print(head)
    print("-" * len(head))
    for name, values, broadcasts in rows:
        print(f"{name:<34} {statistics.median(values):>10.2f} {p90(values):>8.2f} {broadcasts:>12}")
    if len(rows) == 2:
        console_ms, flower_ms = (statistics.median(values) for _, values, _ in rows)
        verdict = "pass" if console_ms <= flower_ms else "FAIL"
        print(
            f"\nTarget (issue 15: the workers table <= Flower's workers page): {verdict} "
            f"({console_ms:.2f} ms vs {flower_ms:.2f} ms)"
        )
    print(
        "The console's time is the server's (Flask test client, in process); Flower's is an "
        "HTTP GET over loopback,\nwhich adds well under a millisecond."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 renders per page")
    parser.add_argument("-n", "--runs", type=int, help="renders per page (default 40)")
    parser.add_argument(
        "--inspect-timeout",
        type=float,
        default=0.2,
        help="[CONSOLE] INSPECT_TIMEOUT of the background inspect rounds",
    )
    parser.add_argument("--no-flower", action="store_true", help="skip Flower's workers page")
    parser.add_argument(
        "--no-worker", action="store_true", help="skip the workers table with a worker running"
    )
    args = parser.parse_args()
    runs = args.runs or (10 if args.quick else 40)
    if runs < 2:
        parser.error("--runs: at least 2")
    logging.disable(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="flasker-console-bench-") as folder:
        root = Path(folder)
        print("building the projects ...", file=sys.stderr, flush=True)
        small = build(root, "small", args.inspect_timeout)
        large = build(root, "large", args.inspect_timeout)
        baseline = measure({"layout": getter(small, BASELINE)}, runs)["layout"]
        base_ms = statistics.median(baseline)

        print(
            f"\nConsole benchmark: {runs} renders per page through the Flask test client, "
            "small and large alternating;\nsmall = 8 models, 30 tasks, 60 activity entries; "
            "large = 40 models, 500 tasks, 1,000 entries (SQLite, embedded broker)\n"
        )
        head = (
            f"{'page':<12} {'small ms':>9} {'p90':>7} {'large ms':>9} {'p90':>7} "
            f"{'large/small':>11} {'queries':>9} {'broadcasts':>10} {'small/layout':>12}  target"
        )
        print(head)
        print("-" * (len(head) + 12))
        print(
            f"{'(layout)':<12} {base_ms:>9.2f} {p90(baseline):>7.2f} {'':>9} {'':>7} "
            f"{'':>11} {'':>9} {'':>10} {1.0:>11.2f}x"
        )
        verdicts = []
        for path in PAGES:
            url = "/console" + path
            try:
                times = measure({"small": getter(small, url), "large": getter(large, url)}, runs)
                queries = (counts(small, path), counts(large, path))
            except Exception as error:  # one broken page is a row, not a crash
                print(f"{path:<12} failed: {type(error).__name__}: {error}")
                verdicts.append(f"{path} failed")
                continue
            s_ms, l_ms = statistics.median(times["small"]), statistics.median(times["large"])
            ratio = l_ms / s_ms
            flat = queries[0] == queries[1]
            verdict = "pass" if ratio <= TARGET and flat else "FAIL"
            verdicts.append(f"{path} {verdict} ({ratio:.2f}x)")
            query_text = f"{queries[0][0]}/{queries[1][0]}"
            broadcast_text = f"{queries[0][1]}/{queries[1][1]}"
            print(
                f"{path:<12} {s_ms:>9.2f} {p90(times['small']):>7.2f} {l_ms:>9.2f} "
                f"{p90(times['large']):>7.2f} {ratio:>10.2f}x {query_text:>9} "
                f"{broadcast_text:>10} {s_ms / base_ms:>11.2f}x  {verdict} (<= {TARGET:g}x, "
                f"same counts)"
            )
        print(f"\nTargets (large/small <= {TARGET:g}x, equal counts): " + "; ".join(verdicts))
        print(
            "\nqueries and broadcasts: small/large, per render after a warm-up. The workers page "
            "renders from the live state\nand the last background inspect round (INSPECT_TIMEOUT "
            f"here {args.inspect_timeout:g} s): a render never waits for a broadcast; one\n"
            "counted here is a background round that was due during the render."
        )
        print(
            "Both projects fill a page of every list (endpoints 50 rows a table, tasks 25, "
            "activity 50): the ratio is\nthe cost of the data stored behind the page."
        )
        if not args.no_worker:
            live_workers(small, root, runs, flower=not args.no_flower)


if __name__ == "__main__":
    main()
