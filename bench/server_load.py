"""`flasker server --prod` (gunicorn) under wrk: requests/s and latency, 1 and 2 processes.

    uv run python bench/server_load.py                  # PostgreSQL, ~1.5 minutes
    uv run python bench/server_load.py --db sqlite      # the example's own SQLite file
    uv run python bench/server_load.py --db both        # both tables, ~3 minutes
    uv run python bench/server_load.py --seconds 2 --connections 16

Issue 10 ("Load and scale-out"). A copy of examples/houses, auth left on, is served by
`flasker server --prod -w 1` and `-w 2` at once (gunicorn gthread workers, 4 threads each, the
access log on: flasker's production set-up as shipped); each workload loads one server at a
time, in the order -w 1, 2, 2, 1, so a machine that gets busier meanwhile weighs on both
alike. SECRET_KEY comes from the environment, as --prod requires; `--no-worker` leaves out the
embedded Celery worker, which no request here uses. The database holds the example's seed
plus 1,000 houses x 10 cats. Requests carry an API token made the way a user makes one
(`flasker auth user add bench@example.test --role admin`, then `flasker auth token create
--scopes api:read,api:write`).

wrk (Debian package `wrk`) runs in a second process with a Lua script that counts every
status and, for the POST, makes each cat's name unique. Each workload gets a warm-up run per
server, then the measured runs; before them, one request checks the answer's shape (a 302 to
the sign-in page would otherwise count as a success). Only 2xx answers pass: 0 others are
allowed. For the POST the script also counts the rows that arrived (rows >= 201 answers: a
request in flight when wrk stops is not counted by wrk but may be written).

CPU is measured from /proc over each measured run: the gunicorn processes, wrk, and the
PostgreSQL backends of the benchmark's own database, in % of one core (the machine has 2).
Everything started (servers, database) is stopped or dropped at the end, on failure too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from load_support import ROOT, CpuMeter, copy_example, descendants, loadavg, matching

from flasker.testing import LiveServer, ServerFailed

HOUSES, CATS_PER_HOUSE = 1_000, 10
COLORS = ("black", "orange", "grey", "white", "tabby")
EMAIL = "bench@example.test"

#: name -> (method, path, what the single checked answer must show)
WORKLOADS: dict[str, tuple[str, str, str]] = {
    "page": ("GET", "/api/houses/?limit=100", "100 houses"),
    "include": ("GET", "/api/houses/?limit=100&include=cats", "100 houses, 10 cats each"),
    "filtered": (
        "GET",
        "/api/cats/?color=black&age=gte.3&sort=-age&limit=100",
        "100 black cats aged 3+, oldest first",
    ),
    "post": ("POST", "/api/cats/", "201, the new cat"),
}

#: Counts statuses in every thread and prints one JSON line at the end. For POST (`wrk ...
#: -- post TAG`) each request is a new cat with a unique name.
LUA = r"""
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  counter = 0
  mode = args[1] or "get"
  tag = args[2] or "x"
end
function request()
  if mode ~= "post" then
    return wrk.format(nil)
  end
  counter = counter + 1
  local body = string.format(
    '{"name": "wrk-%s-%d-%d", "color": "white", "age": 2, "house_id": %d}',
    tag, tid, counter, %(first)d + (counter %% %(spread)d))
  local headers = {["Content-Type"] = "application/json"}
  for key, value in pairs(wrk.headers) do headers[key] = value end
  return wrk.format("POST", nil, headers, body)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      merged[tostring(code)] = (merged[tostring(code)] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(merged) do
    table.insert(parts, string.format('"%%s": %%d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, ' ..
    '"statuses": {%%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout,
    table.concat(parts, ", ")))
end
"""
#: POSTed cats go to the second half of the houses, past the pages the GETs read (ids 1-100).
LUA = LUA.replace("%(first)d", str(HOUSES // 2 + 4)).replace("%(spread)d", str(HOUSES // 2))
LUA = LUA.replace("%%", "%")


NOTES = """
req/s counts 2xx answers only; errors = non-2xx answers + socket errors + timeouts (must be 0).
cpu: % of one core over the measured run (2 cores = 200%): srv = gunicorn master + workers,
wrk = the load generator, pg = PostgreSQL backends of this database, all = every process on the
machine (/proc/stat), other work included. 2/1 = req/s with -w 2 / req/s with -w 1.
post: rows = cats that arrived (>= the 2xx count)."""


# -- the project ----------------------------------------------------------------------------------
def fill(cfg: Path, environ: dict[str, str]) -> None:
    """Create the tables (the example seeds 3 houses, 6 cats) and add the benchmark's rows."""
    from flasker import Project
    from flasker.config import load_config
    from flasker.testing import restored_process_state

    # --db both fills a second copy of the same modules: the process forgets the first
    with restored_process_state():
        project = Project(load_config(cfg, environ))
        project.start()
        add_rows(project)


def add_rows(project: Any) -> None:
    """1,000 houses (numbered by the database), 10 cats each, in one transaction."""
    from houses.models import Cat, House
    from sqlalchemy import insert, select

    houses = [{"address": f"{n} Bench Street"} for n in range(HOUSES)]
    with project.db.engine.begin() as connection:
        connection.execute(insert(House), houses)
        ids = connection.scalars(
            select(House.id).where(House.address.like("% Bench Street")).order_by(House.id)
        ).all()
        cats = [
            {
                "name": f"Cat {house}-{n}",
                "color": COLORS[(house + n) % len(COLORS)],
                "age": (house * 7 + n * 3) % 16,
                "house_id": house,
            }
            for house in ids
            for n in range(CATS_PER_HOUSE)
        ]
        connection.execute(insert(Cat), cats)


def flasker(cfg: Path, environ: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flasker", "-c", str(cfg), *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flasker {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def make_token(cfg: Path, environ: dict[str, str]) -> str:
    flasker(cfg, environ, "auth", "user", "add", EMAIL, "--role", "admin")
    out = flasker(
        cfg, environ, "auth", "token", "create", "--email", EMAIL, "--scopes", "api:read,api:write"
    )
    tokens = [word for word in out.split() if word.startswith("fla_")]
    if not tokens:
        raise RuntimeError(f"no token in the output of 'flasker auth token create': {out!r}")
    return tokens[0]


def count_cats(url: str, token: str) -> int:
    answer = call(url + "/api/cats/?limit=1", token)
    return int(answer["meta"]["total"])


# -- one request, checked ------------------------------------------------------------------------
def call(url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Authorization", f"Bearer {token}")
    if data:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status not in (200, 201) or response.url != url:
            raise RuntimeError(f"{url}: {response.status} at {response.url}")
        return json.loads(response.read())


def check(name: str, base: str, token: str) -> None:
    """One request of the workload, its answer checked: wrk itself only sees statuses."""
    method, path, _ = WORKLOADS[name]
    if method == "POST":
        cat = call(base + path, token, {"name": f"check-{secrets.token_hex(4)}", "age": 2})
        assert cat.get("name", "").startswith("check-"), cat
        return
    answer = call(base + path, token)
    rows = answer["data"]
    assert len(rows) == 100, f"{name}: {len(rows)} rows"
    if name == "include":
        assert all(len(house["cats"]) == CATS_PER_HOUSE for house in rows[3:]), "include"
    if name == "filtered":
        ages = [cat["age"] for cat in rows]
        assert ages == sorted(ages, reverse=True), "sort"
        assert all(cat["color"] == "black" and cat["age"] >= 3 for cat in rows), "filter"


# -- wrk ----------------------------------------------------------------------------------------
def run_wrk(
    script: Path,
    url: str,
    token: str,
    seconds: float,
    connections: int,
    args: list[str],
    meter: CpuMeter | None = None,
) -> dict[str, Any]:
    """One wrk run: its JSON line, with the CPU `meter` measured over the run and wrk's own
    CPU (from the rusage of reaped children: wrk is the only child that ends meanwhile)."""
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
    command += ["--timeout", "10s", "-H", f"Authorization: Bearer {token}", "-s", str(script)]
    command += [url, "--", *args]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if meter is not None:
        meter.start()
    try:
        out, err = process.communicate(timeout=seconds + 60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if meter is not None:
        meter.stop()
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime) / wall
    lines = [line for line in out.splitlines() if line.startswith("WRK ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.strip()} {out.strip()}")
    result: dict[str, Any] = json.loads(lines[-1][4:])
    result["wrk_cpu"] = 100.0 * wrk_cpu
    return result


# -- a table ---------------------------------------------------------------------------------------
def start_server(cfg: Path, environ: dict[str, str], folder: Path, workers: int) -> LiveServer:
    """`flasker server --prod -w WORKERS --no-worker`, answering, with all its workers up."""
    server = LiveServer(
        cfg, "--prod", "-w", str(workers), "--no-worker",
        log=folder / f"server-w{workers}.log", env=environ,
    )  # fmt: skip
    try:
        server.start(timeout=90)
    except ServerFailed:
        server.stop()
        raise
    ready = time.monotonic() + 30
    while len(descendants(server.process.pid)) < workers + 1 and time.monotonic() < ready:
        time.sleep(0.1)
    return server


def measure_once(
    server: LiveServer,
    name: str,
    tag: str,
    token: str,
    args: argparse.Namespace,
    script: Path,
    database: str | None,
) -> dict[str, Any]:
    """One measured wrk run of workload `name` against `server`, with its CPU and rows."""
    method, path, _ = WORKLOADS[name]
    lua_args = ["post", tag] if method == "POST" else ["get"]
    before = count_cats(server.url, token) if method == "POST" else 0
    meter = CpuMeter(
        {
            "server": lambda: descendants(server.process.pid),
            "postgres": lambda: matching(
                lambda line: (
                    database is not None
                    and line.startswith("postgres: ")
                    and f" {database} " in line
                )
            ),
        }
    )
    result = run_wrk(
        script, server.url + path, token, args.seconds, args.connections, lua_args, meter
    )
    result["cpu"] = meter.percent()
    if method == "POST":
        result["rows"] = count_cats(server.url, token) - before
    return result


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs of one server and workload as one row: counts and time summed, p50 the mean of
    the runs' p50, p99 and max the worst, CPU the mean."""
    total: dict[str, Any] = {"statuses": {}, "cpu": {}, "duration_us": 0}
    for key in ("requests", "connect", "read", "write", "timeout", "duration_us", "rows"):
        if key in results[0]:
            total[key] = sum(result[key] for result in results)
    for result in results:
        for code, count in result["statuses"].items():
            total["statuses"][code] = total["statuses"].get(code, 0) + count
    total["p50_us"] = sum(result["p50_us"] for result in results) / len(results)
    total["p99_us"] = max(result["p99_us"] for result in results)
    total["max_us"] = max(result["max_us"] for result in results)
    total["wrk_cpu"] = sum(result["wrk_cpu"] for result in results) / len(results)
    for key in results[0]["cpu"]:
        total["cpu"][key] = sum(result["cpu"][key] for result in results) / len(results)
    return total


def measure_servers(
    cfg: Path,
    environ: dict[str, str],
    folder: Path,
    token: str,
    args: argparse.Namespace,
    database: str | None,
) -> dict[int, dict[str, dict[str, Any]]]:
    """Both servers (-w 1 and -w 2) up at once; each workload runs on them in the order
    1, 2, 2, 1 (so a machine getting busier or quieter meanwhile weighs on both alike)."""
    script = folder / "wrk.lua"
    script.write_text(LUA, encoding="utf-8")
    results: dict[int, dict[str, dict[str, Any]]] = {1: {}, 2: {}}
    with ExitStack() as stack:
        servers: dict[int, LiveServer] = {}
        for workers in (1, 2):
            print(f"  starting gunicorn -w {workers} ...", file=sys.stderr, flush=True)
            try:
                servers[workers] = start_server(cfg, environ, folder, workers)
            except ServerFailed as error:
                message = str(error).splitlines()[0]
                results[workers] = {name: {"error": message} for name in WORKLOADS}
                print(str(error)[-3000:], file=sys.stderr)
                continue
            stack.callback(servers[workers].stop)
        for name, (method, _, _) in WORKLOADS.items():
            print(f"  {name} ...", file=sys.stderr, flush=True)
            runs: dict[int, list[dict[str, Any]]] = {workers: [] for workers in servers}
            try:
                for workers, server in servers.items():
                    check(name, server.url, token)
                    warm = ["post", f"w{workers}warm"] if method == "POST" else ["get"]
                    run_wrk(script, server.url + WORKLOADS[name][1], token, args.warmup,
                            args.connections, warm)  # fmt: skip
                order = [1, 2, 2, 1] if len(servers) == 2 else list(servers) * 2
                for number, workers in enumerate(order):
                    tag = f"w{workers}r{number}"
                    runs[workers].append(
                        measure_once(servers[workers], name, tag, token, args, script, database)
                    )
                for workers in servers:
                    results[workers][name] = combine(runs[workers])
            except Exception as error:  # one broken workload is a row, not a crash
                for workers in servers:
                    results[workers][name] = {"error": f"{type(error).__name__}: {error}"}
    return results


def ok_count(result: dict[str, Any]) -> tuple[int, int]:
    """(2xx answers, every other answer or socket error)."""
    statuses = {int(code): n for code, n in result["statuses"].items()}
    good = sum(n for code, n in statuses.items() if 200 <= code < 300)
    bad = sum(n for code, n in statuses.items() if not 200 <= code < 300)
    bad += result["connect"] + result["read"] + result["write"] + result["timeout"]
    return good, bad


def print_table(label: str, runs: dict[int, dict[str, dict[str, Any]]], load: str) -> list[str]:
    print(f"\n{label} - {load}")
    head = (
        f"{'workload':<9} {'-w':>2} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'2xx':>6} {'errors':>6} {'cpu srv':>7} {'cpu wrk':>7} {'cpu pg':>6} {'cpu all':>7} "
        f"{'2/1':>6}"
    )
    print(head)
    print("-" * len(head))
    verdicts = []
    for name in WORKLOADS:
        rates = {}
        for workers, results in runs.items():
            result = results[name]
            if "error" in result:
                print(f"{name:<9} {workers:>2} failed: {result['error'][:150]}")
                verdicts.append(f"{name} -w {workers} failed")
                continue
            good, bad = ok_count(result)
            rate = good / (result["duration_us"] / 1e6)
            rates[workers] = rate
            cpu = result["cpu"]
            srv, wrk_cpu, pg = cpu["server"], result["wrk_cpu"], cpu["postgres"]
            ratio = f"{rate / rates[1]:>5.2f}x" if workers != 1 and rates.get(1) else ""
            rows = f"  rows {result['rows']}" if "rows" in result else ""
            print(
                f"{name:<9} {workers:>2} {rate:>8.1f} {result['p50_us'] / 1000:>7.1f} "
                f"{result['p99_us'] / 1000:>7.1f} {result['max_us'] / 1000:>7.1f} {good:>6} "
                f"{bad:>6} {srv:>6.0f}% {wrk_cpu:>6.0f}% {pg:>5.0f}% {cpu['machine']:>6.0f}% "
                f"{ratio:>6}{rows}"
            )
            if bad:
                verdicts.append(f"{name} -w {workers}: {bad} errors {result['statuses']}")
            if "rows" in result and result["rows"] < good:
                verdicts.append(f"{name} -w {workers}: {good} created, {result['rows']} rows")
    return verdicts


def run_database(kind: str, args: argparse.Namespace, stack: ExitStack) -> list[str]:
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flasker-load-")))
    cfg = copy_example(folder / "houses")
    environ = {k: v for k, v in os.environ.items() if k not in ("FLASKER_CONFIG", "VIRTUAL_ENV")}
    environ["SECRET_KEY"] = secrets.token_hex(32)
    database = None
    if kind == "postgres":
        sys.path.insert(0, str(ROOT))
        from conftest import fresh_postgres_database

        url = stack.enter_context(fresh_postgres_database("flasker_load"))
        database = url.rsplit("/", 1)[1]
        environ["FLASKER__PROJECT__DB_URL"] = url
    print(f"[{kind}] filling {HOUSES:,} houses x {CATS_PER_HOUSE} cats ...", file=sys.stderr)
    fill(cfg, environ)
    token = make_token(cfg, environ)
    runs = measure_servers(cfg, environ, folder, token, args, database)
    db_text = "PostgreSQL 127.0.0.1:5432" if kind == "postgres" else "SQLite (the example's file)"
    label = (
        f"flasker server --prod, {db_text}; wrk -t2 -c{args.connections}, "
        f"2 runs of {args.seconds:g} s per server and workload (order -w 1, 2, 2, 1) after "
        f"{args.warmup:g} s warm-up"
    )
    return print_table(label, runs, loadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        choices=("postgres", "sqlite", "both"),
        default="postgres",
        help="database under the example (default: postgres)",
    )
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="measured run, whole seconds (default 4)"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="warm-up run, whole seconds (default 1)"
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    args = parser.parse_args()
    kinds = ("postgres", "sqlite") if args.db == "both" else (args.db,)
    started = time.monotonic()
    verdicts: list[str] = []
    for kind in kinds:
        with ExitStack() as stack:
            verdicts += [f"[{kind}] {v}" for v in run_database(kind, args, stack)]
    print(NOTES)
    print(f"\nVerdict: {'; '.join(verdicts) if verdicts else '0 errors in every run'}")
    print(f"({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
