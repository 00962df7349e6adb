"""The console's workers table with 4 workers on Redis and 20 sessions polling it every 3 s.

    uv run python bench/console_workers.py               # 1 session, then 20; ~1 minute
    uv run python bench/console_workers.py --seconds 30 --sessions 40

Issue 10 ("Load and scale-out"): the workers page refreshes its table every 3 s
(`hx-get` of /console/workers/table, `hx-trigger="every 3s"`), so N open pages are N/3
requests a second, each of which asks the workers (Celery's remote control) unless the
server shares the answers. Targets: every refresh answered in < 1 s with 20 pages open
(issue 10), and 20 open pages cost the server under 5 % of one core (issue 15): the server's
CPU with 20 sessions minus its CPU with none (the events listener and the background inspect
rounds run either way), measured in the same run.

A generated project (one task, the console mounted, no sign-in: everyone is an admin, as on a
laptop) runs on a Redis server this script starts on a free port (broker db 0, results db 1),
with 4 real `flasker worker --pool solo` processes (flasker.testing.worker_process) and
`flasker server --prod` (gunicorn, its default 2 processes x 4 threads; SECRET_KEY from the
environment). Each session is a thread that polls like htmx: a GET with `HX-Request: true`,
then the next one 3 s after the previous one started (at once when it took longer), the
sessions' first polls spread over the first 3 s. The time is the response time seen by the
client on loopback: the server's time including any wait for a free gunicorn thread.
Every answer is checked: 200, and the table lists the 4 workers online.

The same run first measures 1 session alone (the baseline): the ratio 20 / 1 is what sharing
the server costs. Everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from load_support import CpuMeter, descendants, loadavg, redis_server

from flasker.testing import LiveServer, log_tail, worker_process

WORKERS = 4
INTERVAL = 3.0
TARGET = 1.0
#: % of one core the server may spend on 20 open pages (issue 15).
TABS_CPU = 5.0
TABLE = "/console/workers/table"

MODULE = '''\
"""The benchmark's project: one task and the console."""

from flasker import current_project
from flasker.ext.console import ConsoleManager

celery = current_project.celery
console = current_project.register_manager(ConsoleManager())


@celery.task(name="bench_console.add")
def add(x, y):
    return x + y
'''

CFG = """\
[PROJECT]
NAME = BenchConsoleWorkers
MODULES = bench_console
DB_URL = sqlite:///{folder}/bench.sqlite

[APP]
SECRET_KEY = ${{SECRET_KEY}}

[CELERY]
broker_url = {redis}/0
result_backend = {redis}/1

[LOGGING]
LEVEL = WARNING
"""

ONLINE = re.compile(r'id="workers"[^>]*data-online="(\d+)"')


class Session(threading.Thread):
    """One open workers page: polls the table every INTERVAL seconds until `stop`."""

    def __init__(self, url: str, delay: float, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.delay, self.stop = url, delay, stop
        self.times: list[float] = []
        self.problems: list[str] = []

    def run(self) -> None:
        if self.stop.wait(self.delay):
            return
        while not self.stop.is_set():
            began = time.monotonic()
            self.poll()
            self.stop.wait(max(0.0, began + INTERVAL - time.monotonic()))

    def poll(self) -> None:
        request = urllib.request.Request(self.url, headers={"HX-Request": "true"})
        began = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read().decode()
                status = response.status
        except (urllib.error.URLError, OSError) as error:
            self.problems.append(f"{type(error).__name__}: {error}")
            return
        self.times.append(time.monotonic() - began)
        found = ONLINE.search(body)
        online = int(found.group(1)) if found else None
        if status != 200 or online != WORKERS:
            self.problems.append(f"status {status}, {online} workers online")


def poll_with(url: str, sessions: int, seconds: float) -> tuple[list[float], list[str]]:
    """`sessions` pages polling for `seconds`: every response time, and what went wrong."""
    stop = threading.Event()
    threads = [Session(url, INTERVAL * n / sessions, stop) for n in range(sessions)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(35)
    times = [t for thread in threads for t in thread.times]
    problems = [p for thread in threads for p in thread.problems]
    return times, problems


def warm_up(url: str, folder: Path, in_a_row: int = 10, timeout: float = 120) -> list[str]:
    """Poll until `in_a_row` answers in a row list every worker online (so each gunicorn
    process has asked the workers once): what the answers before said, for the report."""
    seen: list[str] = []
    good = 0
    deadline = time.monotonic() + timeout
    while good < in_a_row:
        if time.monotonic() > deadline:
            tails = "\n".join(log_tail(folder / f"worker{n}.log", 10) for n in range(1, 5))
            raise SystemExit(f"the table never listed {WORKERS} workers: {seen[-5:]}\n{tails}")
        session = Session(url, 0.0, threading.Event())
        session.poll()
        good = 0 if session.problems else good + 1
        seen += session.problems
        time.sleep(0.2)
    return seen


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="polling pages (default 20)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase (default 20)")
    parser.add_argument("--gunicorn", type=int, default=2, help="gunicorn processes (default 2)")
    args = parser.parse_args()
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flasker-cw-")))
        redis = stack.enter_context(redis_server(folder))
        (folder / "bench_console.py").write_text(MODULE, encoding="utf-8")
        cfg = folder / "default.cfg"
        cfg.write_text(CFG.format(folder=folder, redis=redis.url), encoding="utf-8")
        env = {"SECRET_KEY": secrets.token_hex(32)}
        print(f"starting {WORKERS} workers and the server ...", file=sys.stderr, flush=True)
        workers = [
            stack.enter_context(
                worker_process(cfg, folder / f"worker{n}.log", "-n", f"w{n}@bench", env=env)
            )
            for n in range(1, WORKERS + 1)
        ]
        server = LiveServer(
            cfg, "--prod", "-w", str(args.gunicorn), log=folder / "server.log", env=env
        )
        stack.callback(server.stop)
        server.start(timeout=120)
        url = server.url + TABLE
        warm = warm_up(url, folder)
        meter = CpuMeter(
            {
                "server": lambda: descendants(server.process.pid),
                "workers": lambda: [pid for w in workers for pid in descendants(w.pid)],
                "redis": lambda: [redis.pid],
            }
        )
        rows = []
        for sessions in (0, 1, args.sessions):
            print(f"{sessions} session(s) for {args.seconds:g} s ...", file=sys.stderr)
            meter.start()
            times, problems = poll_with(url, sessions, args.seconds)
            meter.stop()
            rows.append((sessions, times, problems, meter.percent()))
        load = loadavg()

    print(
        f"\nConsole workers table ({TABLE}, HX-Request), {WORKERS} solo workers on Redis, "
        f"flasker server --prod -w {args.gunicorn};\nsessions poll every {INTERVAL:g} s for "
        f"{args.seconds:g} s - {load}"
    )
    head = (
        f"{'sessions':>8} {'requests':>8} {'req/s':>6} {'p50 ms':>7} {'p90 ms':>7} {'max ms':>7} "
        f"{'x 1':>6} {'bad':>4} {'cpu srv':>7} {'cpu wrk':>7} {'cpu redis':>9} {'cpu all':>7}"
    )
    print(head)
    print("-" * len(head))
    base = None
    verdicts = []
    idle = rows[0][3]["server"]
    for sessions, times, problems, cpu in rows:
        if sessions == 0:
            print(
                f"{0:>8} {'(idle)':>8} {'':>6} {'':>7} {'':>7} {'':>7} {'':>6} {'':>4} "
                f"{cpu['server']:>6.0f}% {cpu['workers']:>6.0f}% {cpu['redis']:>8.0f}% "
                f"{cpu['machine']:>6.0f}%"
            )
            continue
        if not times:
            print(f"{sessions:>8} no answer: {problems[:3]}")
            verdicts.append(f"{sessions} sessions: no answer")
            continue
        median = statistics.median(times)
        base = base or median
        print(
            f"{sessions:>8} {len(times):>8} {len(times) / args.seconds:>6.1f} "
            f"{median * 1000:>7.0f} {percentile(times, 0.9) * 1000:>7.0f} "
            f"{max(times) * 1000:>7.0f} {median / base:>5.2f}x {len(problems):>4} "
            f"{cpu['server']:>6.0f}% {cpu['workers']:>6.0f}% {cpu['redis']:>8.0f}% "
            f"{cpu['machine']:>6.0f}%"
        )
        slowest = max(times)
        verdict = "pass" if slowest < TARGET and not problems else "FAIL"
        verdicts.append(f"{sessions} sessions: {verdict} (max {slowest * 1000:.0f} ms)")
        for problem in sorted(set(problems))[:5]:
            print(f"{'':>8} problem: {problem}")
    tabs = rows[-1][3]["server"] - idle
    verdicts.append(
        f"{args.sessions} pages cost the server {tabs:.1f} % of a core: "
        + ("pass" if tabs < TABS_CPU * args.sessions / 20 else "FAIL")
    )
    print(
        f"\nWarm-up: {len(warm)} answer(s) did not list {WORKERS} workers online before 10 in a "
        f"row did" + (f" ({'; '.join(sorted(set(warm)))})" if warm else "")
    )
    print(
        f"Targets: every refresh < {TARGET:g} s, every answer 200 with {WORKERS} online; "
        f"20 pages < {TABS_CPU:g} % of a core in the server (over its idle CPU)."
    )
    print("Verdict: " + "; ".join(verdicts))
    print(
        "x 1 = median over the 1-session median. bad = answers that failed or did not list "
        f"{WORKERS} workers online.\ncpu: % of one core (2 cores = 200%) over the phase: srv = "
        "gunicorn, wrk = the 4 workers, redis = this script's redis-server, all = the machine."
    )
    print(f"({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
