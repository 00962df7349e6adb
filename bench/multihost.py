"""The example project on three hosts: data (PostgreSQL + Redis), web (gunicorn), workers.

The hosts are Linux network namespaces on this machine, joined by veth pairs to a bridge in
the root namespace, on a private /24 that exists only here (10.213.X.0/24). Nothing leaves the
machine: every address used is the bridge's or one of the three hosts'. The project is a copy
of examples/houses whose cfg differs in three keys only (DB_URL, broker_url, result_backend),
which is the claim under test: the embedded set-up moves to several hosts by its cfg alone.
SECRET_KEY comes from the environment, as `--prod` requires.

Run as root (namespaces need CAP_NET_ADMIN)::

    uv run python bench/multihost.py

It prints one row per step (host, seconds, PASS/FAIL) and exits 1 when a step fails. Every
namespace, interface, process and file it creates is removed at the end, on failure and on
Ctrl+C too; a run that was SIGKILLed is cleaned up by the next one (see `remove_stale`).
`e2e/test_multihost.py` runs the same `run()`.

How the console is checked: the console's sign-in is OIDC, and the one-time development link
works neither under `--prod` nor off loopback. Rather than add a provider to the cfg (which
would change more than the three keys), the run invites an admin with `flasker auth user add`
and signs them in the way flasker-auth's callback does, in a process on the web host that holds
the deployment's SECRET_KEY: the resulting session cookie is the one a browser would carry.
With it the run starts a task from the example's own form (CSRF token included) and reads the
console's workers table over HTTP, both served by gunicorn on the web host.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import html
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, NoReturn

from flasker.testing import background, log_tail, wait_for

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "houses"
#: Names of everything a run creates start with this and the run's pid (stale-run clean-up).
PREFIX = "flmh"
#: Second octet of the private range; the third is the first one no route uses yet.
NETWORK = "10.213"
HOSTS = ("data", "web", "workers")
WEB_PORT = 8000
ADMIN_EMAIL = "ops@example.test"
#: Overall budget of a run (the brief: < 3 min); each wait also has its own deadline.
BUDGET = 170.0


class StepFailed(Exception):
    """A step did not do what it should; the message says what was seen instead."""


# -- the report ---------------------------------------------------------------------------------
@dataclass
class Step:
    name: str
    host: str
    seconds: float = 0.0
    ok: bool = False
    detail: str = ""


@dataclass
class Report:
    """The steps run so far; `step()` times one and records PASS or FAIL."""

    steps: list[Step] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    def remaining(self) -> float:
        return BUDGET - (time.monotonic() - self.started)

    @contextlib.contextmanager
    def step(self, name: str, host: str) -> Iterator[Step]:
        step = Step(name, host)
        self.steps.append(step)
        if self.remaining() <= 0:
            step.detail = f"the run's budget of {BUDGET:g} s was spent before this step"
            raise StepFailed(step.detail)
        began = time.monotonic()
        try:
            yield step
            step.ok = True
        except Exception as error:
            step.detail = step.detail or str(error).strip().splitlines()[0][:300]
            raise
        except BaseException:
            step.detail = step.detail or "interrupted"
            raise
        finally:
            step.seconds = time.monotonic() - began

    def table(self) -> str:
        width = max([len(s.name) for s in self.steps] + [4])
        lines = [f"{'step':<{width}}  {'host':<12} {'seconds':>7}  result", "-" * (width + 32)]
        for s in self.steps:
            result = "PASS" if s.ok else "FAIL"
            lines.append(f"{s.name:<{width}}  {s.host:<12} {s.seconds:7.2f}  {result}  {s.detail}")
        total = time.monotonic() - self.started
        lines.append(f"{'total':<{width}}  {'':<12} {total:7.2f}  {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


#: When the running run's budget ends (time.monotonic()); every wait stops there at the latest.
_run_deadline = float("inf")


def bounded(timeout: float) -> float:
    """`timeout`, cut to what is left of the run's budget (at least half a second)."""
    return max(0.5, min(timeout, _run_deadline - time.monotonic()))


def wait_until(condition: Callable[[], Any], timeout: float, what: str, log: Path | None) -> Any:
    """flasker.testing's wait_for(), cut to the run's budget and raising StepFailed: a script
    reports a timeout in its table instead of failing a pytest test."""
    return wait_for(
        condition, bounded(timeout), what=what, log=log, interval=0.2, on_timeout=_step_failed
    )


def _step_failed(message: str) -> NoReturn:
    raise StepFailed(message)


# -- the network --------------------------------------------------------------------------------
def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=15)
    if check and done.returncode != 0:
        raise StepFailed(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def netns_exec(namespace: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command]


@dataclass
class Network:
    """Three namespaces on one bridge; `address[host]` is each host's IPv4 address."""

    run_id: str
    subnet: str
    address: dict[str, str]

    def namespace(self, host: str) -> str:
        return f"{self.run_id}-{host}"

    @property
    def bridge(self) -> str:
        return self.run_id

    def veth(self, host: str) -> str:
        return f"{self.run_id}v{HOSTS.index(host)}"  # <= 15 characters: flmh + pid + v0

    def exec(self, host: str, *command: str) -> list[str]:
        return netns_exec(self.namespace(host), *command)


def free_subnet() -> str:
    """A 10.213.X.0/24 that no route of the root namespace covers yet (X from this pid, so
    two runs started together are unlikely to pick the same one)."""
    routes = ip("-4", "route", "show").stdout
    for step in range(256):
        prefix = f"{NETWORK}.{(os.getpid() + step) % 256}."
        if prefix not in routes:
            return prefix
    raise StepFailed(f"every {NETWORK}.X.0/24 is in use")


def create_network(run_id: str) -> Network:
    prefix = free_subnet()
    network = Network(
        run_id,
        prefix + "0/24",
        {host: f"{prefix}{index}" for index, host in enumerate(HOSTS, start=2)},
    )
    ip("link", "add", network.bridge, "type", "bridge")
    ip("addr", "add", prefix + "1/24", "dev", network.bridge)
    ip("link", "set", network.bridge, "up")
    for host in HOSTS:
        namespace = network.namespace(host)
        ip("netns", "add", namespace)
        ip(
            "link",
            "add",
            network.veth(host),
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            namespace,
        )
        ip("link", "set", network.veth(host), "master", network.bridge, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        ip("-n", namespace, "addr", "add", network.address[host] + "/24", "dev", "eth0")
        ip("-n", namespace, "link", "set", "eth0", "up")
    return network


def remove_network(run_id: str) -> None:
    """Kill what still runs in the run's namespaces, then delete them, the veths and bridge."""
    namespaces = [n.split()[0] for n in ip("netns", "list", check=False).stdout.splitlines()]
    for namespace in namespaces:
        if not namespace.startswith(run_id + "-"):
            continue
        pids = ip("netns", "pids", namespace, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        ip("netns", "del", namespace, check=False)
    links = ip("-o", "link", "show", check=False).stdout
    for name in re.findall(r"^\d+: ([^:@]+)", links, re.MULTILINE):
        if name.startswith(run_id):
            ip("link", "del", name, check=False)


def remove_stale() -> list[str]:
    """Clean up after runs that were killed before their own clean-up (their pid is gone)."""
    names = ip("netns", "list", check=False).stdout + ip("-o", "link", "show", check=False).stdout
    stale = set()
    for pid in re.findall(rf"\b{PREFIX}(\d+)", names):
        if not Path(f"/proc/{pid}").exists():
            stale.add(f"{PREFIX}{pid}")
    for run_id in sorted(stale):
        remove_network(run_id)
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), f"{PREFIX}*-multihost")):
        pid = Path(folder).name[len(PREFIX) :].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)
    return sorted(stale)


# -- HTTP with a cookie jar that also keeps Secure cookies over plain http -----------------------
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Answer:
    status: int
    headers: Any
    body: str


class Browser:
    """Requests to the web host with the cookies a browser would keep.

    `flasker server --prod` marks the session cookie Secure (TLS ends at the reverse proxy in a
    real deployment); here there is no proxy, so the jar is a plain dict."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(NoRedirect)

    def request(
        self,
        path: str,
        data: dict[str, str] | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        body = data
        sent = dict(headers or {})
        if isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        request = urllib.request.Request(self.base + path, data=body, headers=sent)
        try:
            response = self.opener.open(request, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            answer = Answer(response.status, response.headers, response.read().decode())
        for header in answer.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        return answer


def answers(url: str) -> bool:
    try:
        urllib.request.build_opener(NoRedirect).open(url, timeout=2).close()
    except urllib.error.HTTPError as error:
        error.close()
        return True
    except OSError:
        return False
    return True


# -- the run ------------------------------------------------------------------------------------
def missing_prerequisite() -> str | None:
    """Why this machine cannot run the hosts (None when it can): root, `ip netns`, the
    PostgreSQL server binaries, redis-server and setpriv."""
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_NET_ADMIN"
    for tool in ("ip", "setpriv", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    for tool in ("initdb", "postgres", "pg_isready", "createdb"):
        if not glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"):
            return f"no /usr/lib/postgresql/*/bin/{tool} (PostgreSQL's server package)"
    probe = f"{PREFIX}probe{os.getpid()}"
    added = ip("netns", "add", probe, check=False)
    if added.returncode != 0:
        return f"ip netns add is not permitted here: {added.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


def postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise StepFailed(f"no /usr/lib/postgresql/*/bin/{name}: install PostgreSQL's server")
    return found[-1]


def copy_project(target: Path, network: Network) -> Path:
    """examples/houses copied, its cfg changed in DB_URL, broker_url and result_backend only."""
    from flasker.editor import ConfigDocument

    shutil.copytree(
        EXAMPLE,
        target,
        ignore=shutil.ignore_patterns(
            ".flasker", "*.sqlite*", "__pycache__", "migrations", "*.log"
        ),
    )
    data = network.address["data"]
    document = ConfigDocument.open(target / "default.cfg")
    document.set("PROJECT", "DB_URL", f"postgresql+psycopg://postgres@{data}:5432/houses")
    # Redis off loopback needs a password (protected mode); it comes from the environment
    document.set("CELERY", "broker_url", f"redis://:${{REDIS_PASSWORD}}@{data}:6379/0")
    document.set("CELERY", "result_backend", f"redis://:${{REDIS_PASSWORD}}@{data}:6379/1")
    changed = [line for line in document.diff().splitlines() if line[:1] in "+-"]
    changed = [line for line in changed if not line.startswith(("+++", "---"))]
    document.save(environ={**os.environ, "SECRET_KEY": "x" * 32, "REDIS_PASSWORD": "x"})
    if len(changed) != 3 or not all(line.startswith("+") for line in changed):
        raise StepFailed(f"the cfg diff is not three added keys: {changed}")
    return target / "default.cfg"


def flasker(network: Network, host: str, cfg: Path, *args: str) -> list[str]:
    return network.exec(host, sys.executable, "-m", "flasker", "-c", str(cfg), *args)


def run_in(
    command: list[str], env: dict[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """A short command (flasker check, db create, auth ...) to completion; StepFailed if not 0."""
    environment = {**os.environ, **env}
    environment.pop("FLASKER_CONFIG", None)
    timeout = bounded(timeout)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=environment, timeout=timeout
        )
    except subprocess.TimeoutExpired as error:
        raise StepFailed(f"{' '.join(command[5:])} took over {timeout:g} s") from error
    if done.returncode != 0:
        raise StepFailed(
            f"{' '.join(command[5:])} exited {done.returncode}: "
            + " | ".join((done.stdout + done.stderr).strip().splitlines()[-6:])
        )
    return done


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if match is None:
        raise StepFailed("the home page has no CSRF token (not signed in?)")
    return match.group(1)


def run(report: Report | None = None, echo: Callable[[str], None] = print) -> Report:
    """Build the three hosts, run every step, clean up; the report says what passed."""
    global _run_deadline
    report = report or Report()
    _run_deadline = report.started + BUDGET
    stale = remove_stale()
    if stale:
        echo(f"removed what earlier killed runs left: {', '.join(stale)}")
    run_id = f"{PREFIX}{os.getpid()}"
    folder = Path(tempfile.gettempdir()) / f"{run_id}-multihost"
    shutil.rmtree(folder, ignore_errors=True)  # a dead run of the same pid
    logs = folder / "logs"
    logs.mkdir(parents=True)
    env = {"SECRET_KEY": secrets.token_hex(32), "REDIS_PASSWORD": secrets.token_hex(16)}
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(remove_network, run_id)
            _steps(report, stack, run_id, folder, logs, env)
    except StepFailed as error:
        echo(f"FAILED: {error}")
    except Exception as error:  # a command that broke: still a row in the table, not a trace
        echo(f"FAILED: {type(error).__name__}: {error}")
    finally:
        # the processes are stopped (ExitStack) before the network and files go
        shutil.rmtree(folder, ignore_errors=True)
    return report


def _steps(
    report: Report,
    stack: contextlib.ExitStack,
    run_id: str,
    folder: Path,
    logs: Path,
    env: dict[str, str],
) -> None:
    with report.step("three hosts: namespaces, veths, bridge", "root") as step:
        network = create_network(run_id)
        step.detail = ", ".join(f"{h} {network.address[h]}" for h in HOSTS)
    data = network.address["data"]

    with report.step("PostgreSQL: initdb + start", "data") as step:
        folder.chmod(0o755)
        pgdata = folder / "pg"
        pgdata.mkdir()
        shutil.chown(pgdata, "postgres", "postgres")
        as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"]
        initdb = [*as_postgres, postgres_bin("initdb"), "-D", str(pgdata), "-U", "postgres"]
        initdb += ["-E", "UTF8", "--auth=trust", "--no-sync"]
        subprocess.run(initdb, capture_output=True, check=True, timeout=60)
        with (pgdata / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {network.subnet} trust\n")
        server = [*as_postgres, postgres_bin("postgres"), "-D", str(pgdata)]
        server += ["-c", f"listen_addresses={data}", "-c", f"unix_socket_directories={pgdata}"]
        server += ["-c", "fsync=off", "-c", "max_connections=60"]
        log = logs / "postgres.log"
        stack.enter_context(background(network.exec("data", *server), log))
        ready = [postgres_bin("pg_isready"), "-q", "-h", data, "-U", "postgres"]
        wait_until(lambda: subprocess.run(ready, timeout=5).returncode == 0, 30, "PostgreSQL", log)
        createdb = [postgres_bin("createdb"), "-h", data, "-U", "postgres", "houses"]
        subprocess.run(createdb, capture_output=True, check=True, timeout=20)
        step.detail = f"{data}:5432/houses"

    with report.step("Redis: start", "data") as step:
        log = logs / "redis.log"
        conf = folder / "redis.conf"  # the password stays out of `ps`
        conf.touch(0o600)
        conf.write_text(f"requirepass {env['REDIS_PASSWORD']}\n")
        redis_server = ["redis-server", str(conf), "--bind", data, "--port", "6379"]
        redis_server += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
        stack.enter_context(background(network.exec("data", *redis_server), log))
        wait_until(lambda: "Ready to accept" in log_tail(log), 20, "Redis", log)
        step.detail = f"{data}:6379"

    with report.step("copy examples/houses, change 3 cfg keys", "root") as step:
        cfg = copy_project(folder / "houses", network)
        step.detail = "DB_URL, broker_url, result_backend"

    with report.step("flasker check (db + broker reachable)", "web") as step:
        done = run_in(flasker(network, "web", cfg, "check", "--timeout", "5"), env)
        step.detail = f"{done.stdout.count('OK')} parts OK"

    with report.step("flasker db create", "web"):
        run_in(flasker(network, "web", cfg, "db", "create"), env)

    web = network.address["web"]
    base = f"http://{web}:{WEB_PORT}"
    server_log = logs / "server.log"
    worker_logs = {name: logs / f"worker-{name}.log" for name in ("w1", "w2")}
    with report.step("start server --prod and 2 workers", "web+workers") as step:
        # started together: they boot while the auth commands below run
        command = flasker(network, "web", cfg, "server", "--prod", "--host", web)
        command += ["--port", str(WEB_PORT), "--workers", "2"]
        processes = [stack.enter_context(background(command, server_log, env=env))]
        for name, log in worker_logs.items():
            command = flasker(network, "workers", cfg, "worker", "-n", f"{name}@workers")
            command += ["--concurrency", "1"]
            processes.append(stack.enter_context(background(command, log, env=env)))
        # at the end, SIGTERM all three at once, so their shutdowns overlap (background()
        # then waits for each); the data services stop after them
        stack.callback(terminate, processes)
        step.detail = "gunicorn -w 2; w1@workers, w2@workers --concurrency 1"

    with report.step("auth user add + token create", "web") as step:
        add_user = ["auth", "user", "add", ADMIN_EMAIL, "--role", "admin"]
        run_in(flasker(network, "web", cfg, *add_user), env)
        create_token = ["auth", "token", "create", "--email", ADMIN_EMAIL]
        create_token += ["--scopes", "api:read,api:write"]
        done = run_in(flasker(network, "web", cfg, *create_token), env)
        token = done.stdout.strip().splitlines()[-1].strip()
        if not token.startswith("fla_"):
            raise StepFailed(f"no token printed: {done.stdout!r}")
        step.detail = "admin invited, api:read,api:write token"

    with report.step("gunicorn answers", "web") as step:
        wait_until(lambda: answers(base + "/"), 40, "gunicorn to answer", server_log)
        step.detail = base

    with report.step("both workers ready", "workers") as step:
        for name, log in worker_logs.items():
            wait_until(lambda log=log: " ready." in log_tail(log, 200), 40, f"{name} ready", log)
        step.detail = "w1@workers, w2@workers"

    with report.step("API: anonymous write refused, token write + read", "root") as step:
        client = Browser(base)
        body = b'{"address": "1 Multi-host Lane"}'
        json_headers = {"Content-Type": "application/json"}
        anonymous = client.request("/api/houses/", body, json_headers)
        if anonymous.status != 401:
            raise StepFailed(f"anonymous POST answered {anonymous.status}, not 401")
        bearer = {**json_headers, "Authorization": f"Bearer {token}"}
        created = client.request("/api/houses/", body, bearer)
        if created.status != 201:
            raise StepFailed(f"POST answered {created.status}: {created.body[:200]}")
        listed = client.request("/api/houses/", headers={"Authorization": f"Bearer {token}"})
        if listed.status != 200 or "1 Multi-host Lane" not in listed.body:
            raise StepFailed(f"GET answered {listed.status}: {listed.body[:200]}")
        step.detail = "401, 201, 200"

    with report.step("sign in (session of an invited admin)", "web") as step:
        mint = [sys.executable, str(Path(__file__).resolve()), "session-cookie", str(cfg)]
        done = run_in(network.exec("web", *mint, ADMIN_EMAIL), env)
        name, _, value = done.stdout.strip().partition("=")
        browser = Browser(base)
        browser.cookies[name] = value
        home = browser.request("/")
        if home.status != 200 or "1 Multi-host Lane" not in home.body:
            raise StepFailed(f"the home page answered {home.status} without the API's house")
        step.detail = "home page 200 as " + ADMIN_EMAIL

    with report.step("task: census from the page's form", "web->workers") as step:
        started = browser.request("/census", {"csrf_token": csrf_token(home.body)})
        location = started.headers.get("Location", "")
        task_id = location.rstrip("/").rsplit("/", 1)[-1]
        if started.status != 303 or not re.fullmatch(r"[0-9a-f-]{36}", task_id):
            raise StepFailed(f"POST /census answered {started.status} {location!r}")

        def finished() -> str | None:
            page = browser.request(f"/tasks/{task_id}").body
            state = re.search(r'data-testid="task-state">(\w+)<', page)
            return state.group(1) if state and state.group(1) in {"SUCCESS", "FAILURE"} else None

        state = wait_until(finished, 30, f"task {task_id}", server_log)
        ran_on = [
            name
            for name, log in worker_logs.items()
            if re.search(rf"\[{task_id}\] succeeded", log.read_text(errors="replace"))
        ]
        if state != "SUCCESS" or len(ran_on) != 1:
            raise StepFailed(f"task {state}; succeeded in the logs of {ran_on or 'no worker'}")
        step.detail = f"SUCCESS on {ran_on[0]}@workers"

    with report.step("console: /console/workers lists both", "web") as step:

        def online() -> set[str] | None:
            table = browser.request("/console/workers")
            rows = re.findall(r'data-hostname="([^"]+)" data-online="true"', table.body)
            seen = {html.unescape(row) for row in rows}
            return seen if {"w1@workers", "w2@workers"} <= seen else None

        seen = wait_until(online, 30, "both workers in the console", server_log)
        step.detail = ", ".join(sorted(seen))

    with report.step("stop everything (SIGTERM: warm shutdown)", "all") as step:
        stack.close()  # background() sends SIGTERM, and SIGKILL after 15 s
        warm = [name for name, log in worker_logs.items() if "Warm shutdown" in log_tail(log, 80)]
        if len(warm) != 2:
            raise StepFailed(f"warm shutdown logged by {warm or 'no worker'}, not both")
        step.detail = "both workers logged Warm shutdown"


def terminate(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()


def session_cookie(cfg: str, email: str) -> str:
    """`name=value` of a session cookie for `email`, as flasker-auth's sign-in sets it.

    Runs on the web host (it needs the cfg's SECRET_KEY and database): loads the project, and
    inside a request signs the user in with the same function the OIDC callback uses."""
    from flasker.config import load_config
    from flasker.project import Project
    from flasker_auth import views as auth_views

    project = Project(load_config(cfg, os.environ))
    project.start()
    app = project.app
    manager = app.extensions["flasker_auth"]
    with app.test_request_context("/"):
        from flask import session

        user = manager.find_user(email)
        if user is None:
            raise SystemExit(f"no user {email}: run 'flasker auth user add {email}' first")
        auth_views._rotate_and_login(user)
        value = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    project.close()
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    mint = commands.add_parser("session-cookie", help="(internal) print a signed-in cookie")
    mint.add_argument("cfg")
    mint.add_argument("email")
    options = parser.parse_args(argv)
    if options.command == "session-cookie":
        print(session_cookie(options.cfg, options.email))
        return 0
    missing = missing_prerequisite()
    if missing is not None:
        print(f"cannot run the hosts: {missing}", file=sys.stderr)
        return 2

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # unwinds through run()'s clean-up

    # also SIGINT: started in the background by a shell, Python would inherit it ignored
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    report = Report()
    try:
        run(report)
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
    print(report.table())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
