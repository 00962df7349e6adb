"""The READMEs' promises, run as a new user runs them: every command of every `console` block,
in order, against real processes, with the answers the READMEs print.

The blocks are parsed from the READMEs at test time (never copied here), so a README that
changes is tested as it reads now. Each set-up, the embedded one (SQLite and the on-disk broker)
and PostgreSQL + Redis (the example's cfg with `DB_URL` and the broker changed, as its comments
suggest), runs the root README, then the packages' READMEs against the bundled example.

How a README is read (README_RULES below says it to a failing test's reader too):

- `$ command` lines run in bash in a sandbox laid out like the repository (the example under
  `examples/houses`, a `pyproject.toml` naming its cfg), with `uv run` finding this workspace.
  `\\` at a line's end continues the command. `pip install uv` and `uv run pytest` are not run
  (the runner already has uv, and this is the test run).
- The lines after a command are its expected output: each must match an output line (stdout
  and stderr), in order; other lines may come between. An expected output that is JSON is
  compared as JSON. A command without expected output must succeed (exit 0).
- `…` ends an example value (`fla_Bn4K8f…`, `/auth/dev/jOTeP…`): it matches any value there,
  and later commands that show the same example get the real one. Dates and times are examples
  too, and so is the width of a table's `----` rule. `/srv/` in an expected output is the
  folder the commands run in.
- `flasker server` and `flasker console` start in the background, on a free port instead of
  the one the README shows (5000, 5050; URLs are rewritten); a block with no command is the
  output of the server the sentence before it names (`flasker server`), or else of the server
  started last. A sign-in link a server prints is opened, as a browser would.
- An `ini` block after a sentence ending in "`NAME.cfg`:" is that file, written before the
  next console block runs and removed after it.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flasker.editor import ConfigDocument
from flasker.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
READMES = [
    ROOT / "README.md",
    ROOT / "packages" / "flasker-api" / "README.md",
    ROOT / "packages" / "flasker-auth" / "README.md",
    ROOT / "packages" / "flasker-console" / "README.md",
]
README_RULES = __doc__.split("How a README is read", 1)[1]
#: Commands a README shows that this test does not run, and why.
NOT_RUN = {
    "pip install uv": "the runner already has uv",
    "uv run pytest": "this is the test run",
}
#: The port each server command listens on when the README does not say.
DEFAULT_PORTS = {"server": 5000, "console": 5050}
SERVER = re.compile(r"\bflasker\s+(?:-c\s+\S+\s+)?(server|console)\b")
ELLIPSIS = "…"


# -- reading a README ---------------------------------------------------------------------------
@dataclass
class Block:
    """A fenced block: its language, text lines, the line it starts on, the prose before it."""

    language: str
    lines: list[str]
    line: int
    before: str


@dataclass
class Step:
    """One `$ command` of a console block and the output lines it shows."""

    command: str
    expected: list[str] = field(default_factory=list)


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    prose: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            language, start, body = line[3:].strip(), index + 1, []
            index += 1
            while index < len(lines) and not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            found.append(Block(language, body, start, "\n".join(prose).strip()))
            prose = []
        elif line.strip():
            prose.append(line)
        else:
            prose = [] if not prose or prose[-1] == "" else [*prose, ""]
        index += 1
    return found


def steps(block: Block) -> list[Step]:
    """The commands of a console block; lines before the first `$` form a step without one."""
    found: list[Step] = []
    continuing = False
    for line in block.lines:
        if continuing:
            found[-1].command += " " + line.strip().removesuffix("\\").strip()
            continuing = line.rstrip().endswith("\\")
        elif line.startswith("$ "):
            text = line[2:]
            continuing = text.rstrip().endswith("\\")
            found.append(Step(text.rstrip().removesuffix("\\").strip()))
        else:
            if not found:
                found.append(Step(""))
            if line.strip():
                found[-1].expected.append(line)
    return found


# -- matching outputs ---------------------------------------------------------------------------
WORD_WITH_ELLIPSIS = re.compile(r"[^\s\"'()<>]*" + ELLIPSIS)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME = re.compile(r"\b\d{2}:\d{2}(:\d{2})?\b")


def line_pattern(expected: str, sandbox: Path) -> tuple[re.Pattern[str], list[str]]:
    """A regex for one expected line, and the example values (`x…`) it captures, in order."""
    examples: list[str] = []
    parts: list[str] = []
    position = 0
    for match in WORD_WITH_ELLIPSIS.finditer(expected):
        parts.append(_literal(expected[position : match.start()], sandbox))
        examples.append(match.group())
        parts.append(r"(\S*)")
        position = match.end()
    parts.append(_literal(expected[position:], sandbox))
    return re.compile(r"\s*" + "".join(parts).strip() + r"\s*"), examples


def _literal(text: str, sandbox: Path) -> str:
    pattern = r"\s+".join(re.escape(word) for word in text.split(" ") if word)
    pattern = (r"\s+" if text.startswith(" ") else "") + pattern
    pattern += r"\s+" if text.endswith(" ") and text.strip() else ""
    pattern = pattern.replace(re.escape("/srv/"), re.escape(f"{sandbox}/"))
    pattern = DATE.sub(r"\\d{4}-\\d{2}-\\d{2}", pattern.replace(r"\-", "-"))
    pattern = re.sub("-{2,}", "-+", pattern)  # a table's rule is as wide as its column
    return TIME.sub(r"\\d{2}:\\d{2}(:\\d{2})?", pattern)


def json_matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and ELLIPSIS in expected:
        pattern = ".*".join(re.escape(part) for part in expected.split(ELLIPSIS))
        return isinstance(actual, str) and re.fullmatch(pattern, actual) is not None
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(expected) == set(actual)
            and all(json_matches(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(json_matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual and type(expected) is type(actual))


# -- running a README ---------------------------------------------------------------------------
class ReadmeRun:
    """Runs README blocks in one sandbox, keeping example values and servers between them."""

    def __init__(self, sandbox: Path, env: dict[str, str]) -> None:
        self.sandbox = sandbox
        self.env = env
        #: Example value in a README → the real value a command printed for it.
        self.examples: dict[str, str] = {}
        #: README port → (the server's process, its log, the real port).
        self.servers: dict[int, tuple[subprocess.Popen[bytes], Path, int]] = {}
        self.last_server: int | None = None
        self.transcript: list[str] = []
        #: A browser's cookies: printed sign-in links are opened with it.
        self.client = browser()
        self.opened: set[str] = set()
        self.signed_in = False
        self.written: list[Path] = []

    # -- substitutions --------------------------------------------------------------------------
    def real(self, text: str) -> str:
        """`text` with example values and README ports replaced by the real ones."""
        for example in sorted(set(WORD_WITH_ELLIPSIS.findall(text)), key=len, reverse=True):
            value = self.value_of(example)
            if value is not None:
                text = text.replace(example, value)
        for readme_port, (_process, _log, port) in self.servers.items():
            text = re.sub(rf"(127\.0\.0\.1|localhost):{readme_port}\b", rf"\1:{port}", text)
        return text

    def value_of(self, example: str) -> str | None:
        if example in self.examples:
            return self.examples[example]
        prefix = example.removesuffix(ELLIPSIS)
        for known, value in reversed(self.examples.items()):
            known_prefix = known.removesuffix(ELLIPSIS)
            if prefix and (known_prefix.startswith(prefix) or prefix.startswith(known_prefix)):
                return value
        return None

    def fail(self, where: str, message: str) -> None:
        shown = "\n".join(self.transcript[-30:])
        pytest.fail(
            f"{where}: {message}\n\nthe run so far:\n{shown}\n\nHow a README is read{README_RULES}",
            pytrace=False,
        )

    # -- blocks ---------------------------------------------------------------------------------
    def run_readme(self, path: Path) -> None:
        for block in blocks(path):
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            where = f"{shown}:{block.line}"
            if block.language == "ini":
                self.write_named_file(block)
            elif block.language == "console":
                named = re.findall(r"`([^`]+)`", block.before)
                servers = [c for c in named if SERVER.search(c)]
                if not block.lines[0].startswith("$ ") and servers:
                    kind = SERVER.search(servers[-1]).group(1)  # type: ignore[union-attr]
                    self.start_server(servers[-1], kind, where)  # the server the text names
                for step in steps(block):
                    self.run_step(step, where)
                for written in self.written:  # a sample cfg is not the folder's cfg after
                    written.unlink(missing_ok=True)
                self.written.clear()

    def write_named_file(self, block: Block) -> None:
        named = re.search(r"`([\w.-]+\.cfg)`:\s*$", block.before)
        if named:
            path = self.sandbox / named.group(1)
            path.write_text("\n".join(block.lines) + "\n")
            self.written.append(path)

    def run_step(self, step: Step, where: str) -> None:
        if not step.command:
            self.check_server_output(step.expected, where)
            return
        if step.command in NOT_RUN:
            self.transcript.append(f"$ {step.command}   (not run: {NOT_RUN[step.command]})")
            return
        server = SERVER.search(step.command)
        if server is not None:
            self.start_server(step.command, server.group(1), where)
            if step.expected:
                self.check_server_output(step.expected, where)
            return
        command = self.real(step.command)
        self.transcript.append(f"$ {command}")
        try:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=self.sandbox,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=180,
            )
        except subprocess.TimeoutExpired:
            self.fail(where, f"`{command}` did not finish within 180 s")
            return
        output = done.stdout + done.stderr
        self.transcript.extend(output.splitlines())
        if not step.expected:
            if done.returncode != 0:
                self.fail(where, f"`{command}` exited {done.returncode}")
            return
        self.check_output(step.expected, output, where, done.stdout)

    def check_output(self, expected: list[str], output: str, where: str, stdout: str) -> None:
        """`output` (both streams) shows the expected lines; a JSON answer is read from
        stdout (curl's progress meter, say, goes to stderr)."""
        joined = "".join(line.strip() for line in expected)
        try:
            wanted = json.loads(joined)
        except ValueError:
            wanted = None
        if wanted is not None:
            try:
                answer = json.loads(stdout)
            except ValueError:
                answer = None
            if not json_matches(wanted, answer):
                self.fail(where, f"expected JSON like {joined}\ngot {stdout.strip()}")
            return
        if not self.find_lines(expected, output.splitlines()):
            self.fail(where, "expected, in order:\n" + "\n".join(expected))

    def find_lines(self, expected: list[str], lines: list[str]) -> bool:
        """Each expected line matches an output line, in order; records example values."""
        found: dict[str, str] = {}
        position = 0
        for line in expected:
            pattern, examples = line_pattern(self.real_ports_only(line), self.sandbox)
            for index in range(position, len(lines)):
                match = pattern.fullmatch(lines[index])
                if match:
                    found.update(zip(examples, match.groups(), strict=False))
                    position = index + 1
                    break
            else:
                return False
        self.examples.update({k: v for k, v in found.items() if v})
        return True

    def real_ports_only(self, text: str) -> str:
        for readme_port, (_process, _log, port) in self.servers.items():
            text = re.sub(rf"(127\.0\.0\.1|localhost):{readme_port}\b", rf"\1:{port}", text)
        return text

    # -- servers --------------------------------------------------------------------------------
    def start_server(self, text: str, kind: str, where: str) -> None:
        port_given = re.search(r"(?:-p|--port)[ =](\d+)", text)
        readme_port = int(port_given.group(1)) if port_given else DEFAULT_PORTS[kind]
        self.stop_server(readme_port)
        port = free_port()
        command = self.real(text)
        if port_given:
            command = command.replace(port_given.group(0), f"--port {port}")
        else:
            command += f" --port {port}"
        self.transcript.append(f"$ {command} &")
        log = self.sandbox / f"server-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.sandbox,
                env={**self.env, "PYTHONUNBUFFERED": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.servers[readme_port] = (process, log, port)
        self.last_server = readme_port
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.fail(where, f"`{command}` exited {process.returncode}:\n{log.read_text()}")
            if answers(f"http://127.0.0.1:{port}/"):
                return
            time.sleep(0.3)
        self.fail(where, f"`{command}` did not answer within 90 s:\n{log.read_text()}")

    def check_server_output(self, expected: list[str], where: str) -> None:
        if self.last_server is None:
            self.fail(where, "an output block with no server started before it")
            return
        _process, log, _port = self.servers[self.last_server]
        deadline = time.monotonic() + 15
        while not self.find_lines(expected, log.read_text(errors="replace").splitlines()):
            if time.monotonic() > deadline:
                self.fail(where, "the server did not print:\n" + "\n".join(expected))
            time.sleep(0.3)
        self.transcript.extend(expected)
        for value in list(self.examples.values()):
            if value.startswith("http://") and value not in self.opened:
                self.open_link(value, where)

    def open_link(self, url: str, where: str) -> None:
        """A link the server printed, opened as the README says (in a browser: cookies kept)."""
        self.opened.add(url)
        try:
            with self.client.open(url, timeout=20) as answer:
                status, landed = answer.status, answer.url
        except urllib.error.HTTPError as error:
            self.fail(where, f"the printed link {url} answered {error.code}")
            return
        self.transcript.append(f"(opened {url}: {status} at {landed})")
        if status != 200 or "/auth/" in landed:
            self.fail(where, f"the printed link {url} did not sign in: {status} at {landed}")
        self.signed_in = True

    def url(self, readme_url: str) -> str:
        return self.real(readme_url)

    def stop_server(self, readme_port: int) -> None:
        found = self.servers.pop(readme_port, None)
        if found is None:
            return
        process = found[0]
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def stop(self) -> None:
        for readme_port in list(self.servers):
            self.stop_server(readme_port)


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


def browser() -> urllib.request.OpenerDirector:
    """An HTTP client that keeps cookies, as a browser does."""
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


# -- the set-ups --------------------------------------------------------------------------------
def make_sandbox(folder: Path) -> Path:
    """A folder laid out like the repository for the READMEs' commands."""
    shutil.copytree(
        ROOT / "examples" / "houses",
        folder / "examples" / "houses",
        ignore=shutil.ignore_patterns("db.sqlite*", ".flasker", "__pycache__", "*.log"),
    )
    (folder / "pyproject.toml").write_text(
        '[tool.flasker]\nconfig = "examples/houses/default.cfg"\n', encoding="utf-8"
    )
    return folder


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASKER")}
    env.pop("VIRTUAL_ENV", None)
    env["UV_PROJECT"] = str(ROOT)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def run_readmes(tmp_path: Path) -> Iterator[Callable[[Callable[[], dict[str, str]]], ReadmeRun]]:
    """`run_readmes(cfg_changes)`: the root README then flasker-api's in one sandbox (the API
    examples use the quickstart's token), then flasker-auth's and flasker-console's each in a
    fresh one (their ids start at 1). `cfg_changes()` gives the example's cfg changes for a
    new sandbox (a fresh database each time)."""
    runs: list[ReadmeRun] = []

    def sandbox(name: str, cfg_changes: dict[str, str]) -> ReadmeRun:
        folder = make_sandbox(tmp_path / name)
        if cfg_changes:
            document = ConfigDocument.open(folder / "examples" / "houses" / "default.cfg")
            for key, value in cfg_changes.items():
                section, option = key.split(".", 1)
                document.set(section, option, value)
            document.save()
        readme = ReadmeRun(folder, environment())
        runs.append(readme)
        return readme

    def run(cfg_changes: Callable[[], dict[str, str]]) -> ReadmeRun:
        first = sandbox("repo", cfg_changes())
        first.run_readme(READMES[0])
        check_root_readme_urls(first)
        first.run_readme(READMES[1])
        for index, path in enumerate(READMES[2:]):
            sandbox(f"repo{index + 2}", cfg_changes()).run_readme(path)
        return first

    def stop_all() -> None:
        for readme in runs:
            readme.stop()

    run.stop_all = stop_all  # type: ignore[attr-defined]
    yield run
    stop_all()


def check_root_readme_urls(readme: ReadmeRun) -> None:
    """The root README's URLs of the example answer 200 once signed in with the printed link;
    an anonymous write to the API answers 401, as it says."""
    text = READMES[0].read_text(encoding="utf-8")
    assert readme.signed_in, "no sign-in link was read from the server's output and opened"
    client = readme.client
    # `flasker new` + `flasker server` took the example's port: serve the example again (the
    # session cookie of the sign-in stays valid: same project, same secret key).
    readme.start_server("uv run flasker server", "server", "the example again")
    server_url = readme.url("http://127.0.0.1:5000")
    urls = set(re.findall(r"http://127\.0\.0\.1:5000[^\s)>`\"']*", text))
    urls = {u.rstrip(".,") for u in urls if ELLIPSIS not in u and "/auth/" not in u}
    assert urls, "the README names no URL of the example"
    for url in sorted(urls):
        with client.open(readme.url(url), timeout=20) as answer:
            assert answer.status == 200, (url, answer.status)
    request = urllib.request.Request(
        server_url + "/api/houses/",
        data=b'{"address": "x"}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    refused.value.close()


# -- the tests ------------------------------------------------------------------------------------
def test_the_readmes_on_the_embedded_set_up(run_readmes):
    run = run_readmes(dict)
    assert run.examples, "no example value was read: the READMEs' outputs were not checked"


def test_the_readmes_on_postgresql_and_redis(run_readmes, postgres_database, redis_url):
    with contextlib.ExitStack() as databases:

        def changes() -> dict[str, str]:
            return {
                "PROJECT.DB_URL": databases.enter_context(postgres_database("readme")),
                "CELERY.broker_url": redis_url,
                "CELERY.result_backend": redis_url,
            }

        try:
            run = run_readmes(changes)
            assert run.examples
        finally:
            run_readmes.stop_all()  # before their databases are dropped


def test_the_readmes_cfg_samples_are_valid(tmp_path):
    """Every `ini` block of the READMEs loads without an error (a section shown alone gets a
    `[PROJECT]` to stand in), but the example of mistakes, which must fail as shown (the
    console run above checks its messages)."""
    from flasker.config import load_config
    from flasker.exceptions import ConfigError

    checked = []
    for path in READMES:
        for block in blocks(path):
            if block.language != "ini":
                continue
            text = "\n".join(block.lines)
            if "[PROJECT]" not in text:
                text = "[PROJECT]\nNAME = Sample\n\n" + text
            cfg = tmp_path / f"sample{len(checked)}.cfg"
            cfg.write_text(text + "\n", encoding="utf-8")
            variables = re.findall(r"\$\{(\w+)\}", text)  # set, as the README says to
            environ = {**os.environ, **dict.fromkeys(variables, "set")}
            if "bad.cfg" in block.before:
                environ.pop("NOPE", None)
                with pytest.raises(ConfigError):
                    load_config(cfg, environ=environ)
            else:
                load_config(cfg, environ=environ)
            checked.append(f"{path.name}:{block.line}")
    assert len(checked) >= 5, checked


def test_the_parser_reads_commands_outputs_and_examples(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "Run it:\n\n```console\n$ echo fla_abc123 \\\n   && echo done\nfla_Zz…\ndone\n```\n",
        encoding="utf-8",
    )
    (block,) = blocks(readme)
    (step,) = steps(block)
    assert step.command == "echo fla_abc123 && echo done"
    assert step.expected == ["fla_Zz…", "done"]
    run = ReadmeRun(tmp_path, environment())
    run.run_readme(readme)
    assert run.examples == {"fla_Zz…": "fla_abc123"}
    assert run.real("curl -H 'Bearer fla_…'") == "curl -H 'Bearer fla_abc123'"
