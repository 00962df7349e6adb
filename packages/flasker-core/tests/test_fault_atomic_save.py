"""The cfg editor's save under SIGKILL and under a race, with real processes.

A process saves the cfg in a loop through the API the console's editor uses (a
`ConfigDocument` made from the text the operator saw, then `save()`), alternating two versions,
and is SIGKILLed at a random moment, 100 times (each a child forked from one warm subprocess,
so a round costs a fork, not an interpreter start): after every kill the file is one of the
two versions byte for byte, and the temp file a kill before the rename leaves is removed by
the next save. Two processes saving from the same version at once: one wins, the other is
refused with the text on disk, and nothing of the winner's is lost.

The seed and the figures (kills, saves, kills that left a temp file) are printed with `-s`.
"""

from __future__ import annotations

import collections
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flasker import load_config
from flasker.editor import ConfigDocument, cfg_diff

pytestmark = pytest.mark.faults

KILLS = 100
#: A cfg of a realistic shape; the comment block makes each write long enough to be hit.
OLD = (
    "# the houses project\n[PROJECT]\nNAME = one\nMODULES = app.models\n\n[APP]\nDEBUG = false\n"
    + "".join(f"# note {n}: a comment the editor must keep byte for byte\n" for n in range(400))
)
NEW = OLD.replace("NAME = one", "NAME = two").replace("DEBUG = false", "DEBUG = true")

#: Warm once (imports, a first validation), then for each line on stdin fork a child that saves
#: in a loop until the test SIGKILLs it, and report the child's pid and how it ended.
SAVER = """
import os, sys
from pathlib import Path
from flasker.editor import ConfigDocument, version_of

path, old = Path(sys.argv[1]), sys.argv[2]


def save_forever():
    while True:
        current = path.read_text(encoding="utf-8")
        if current == old:  # the section form: keys set on the text the page showed
            document = ConfigDocument(path, current)
            document.set("PROJECT", "NAME", "two")
            document.set("APP", "DEBUG", "true")
        else:  # raw mode: the whole new text, checked against the version it was made from
            document = ConfigDocument(path, old, version=version_of(current))
        document.save(environ={})
        # one write(2) of a whole line: print() may split it, and a SIGKILL between the two
        # halves glued "saved" to the parent's "exit -9" line
        os.write(1, b"saved\\n")


ConfigDocument(path, old).validate(environ={})  # the first validation imports a lot
print("ready", flush=True)
for _ in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            save_forever()
        finally:
            os._exit(1)
    print(f"pid {pid}", flush=True)
    _, status = os.waitpid(pid, 0)
    print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)
"""

TEMP = re.compile(r"\.default\.cfg\.[a-z0-9_]{8}\.tmp")


def _temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP.fullmatch(p.name))


def _saver(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SAVER), str(path), OLD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_the_versions_are_what_the_editor_writes(tmp_path: Path) -> None:
    """The saver's two edits produce exactly OLD and NEW (so the byte checks below are fair)."""
    path = tmp_path / "default.cfg"
    path.write_text(OLD, encoding="utf-8")
    document = ConfigDocument.open(path)
    document.set("PROJECT", "NAME", "two")
    document.set("APP", "DEBUG", "true")
    assert document.text == NEW
    assert load_config(path, environ={}).name == "one"


def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "default.cfg"
    path.write_text(OLD, encoding="utf-8")
    versions = {OLD.encode(): "old", NEW.encode(): "new"}
    seed = int.from_bytes(os.urandom(4), "big")
    moments = random.Random(seed)
    found: collections.Counter[str] = collections.Counter()
    saves = kills_leaving_a_temp = most_temps = 0
    with _saver(path) as server:
        assert server.stdin is not None
        assert server.stdout is not None
        assert server.stdout.readline() == "ready\n"
        for kill in range(KILLS):
            before = _temp_files(tmp_path)
            server.stdin.write("go\n")
            server.stdin.flush()
            started = server.stdout.readline()
            assert started.startswith("pid "), started
            # the random moment: anywhere in the first few saves (~10-30 ms each)
            time.sleep(moments.uniform(0, 0.1))
            os.kill(int(started.split()[1]), signal.SIGKILL)
            saved = 0
            while (line := server.stdout.readline()) != f"exit {-signal.SIGKILL}\n":
                assert line == "saved\n", line  # anything else: the saver failed by itself
                saved += 1
            saves += saved
            content = path.read_bytes()
            assert content in versions, f"kill {kill} (seed {seed}) left neither version"
            found[versions[content]] += 1
            temps = _temp_files(tmp_path)
            kills_leaving_a_temp += len(set(temps) - set(before))
            most_temps = max(most_temps, len(temps))
            # a save removes what earlier kills left: only this child's own temp file remains
            allowed = 1 if saved else len(before) + 1
            assert len(temps) <= allowed, (kill, seed, temps)
        server.stdin.close()
        assert server.wait(10) == 0

    print(
        f"\nseed {seed}: {KILLS} kills, {saves} saves completed, file found {dict(found)}, "
        f"{kills_leaving_a_temp} kills left a temp file (at most {most_temps} at once)"
    )
    assert saves >= KILLS // 2, "the saver hardly ever saved: the kills proved little"
    # the next save cleans up and the file loads
    document = ConfigDocument.open(path)
    document.set("PROJECT", "NAME", "three")
    document.save(environ={})
    assert _temp_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.cfg"]
    assert load_config(path, environ={}).name == "three"


RACER = """
import sys
from pathlib import Path
from flasker.editor import ConfigDocument
from flasker.exceptions import StaleConfigError

path, name = Path(sys.argv[1]), sys.argv[2]
document = ConfigDocument.open(path)  # both racers read the same version
document.set("PROJECT", "NAME", name)
print("ready", flush=True)
sys.stdin.readline()
try:
    document.save(environ={})
except StaleConfigError as error:
    print("refused", flush=True)
    print(error.current_text, end="", flush=True)
else:
    print("saved", flush=True)
"""


def test_two_saves_from_one_version_at_once_one_is_refused_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    """The race under the lock (the console's refusal page for one stale save at a time is
    tested in flasker-console's test_views.py)."""
    path = tmp_path / "default.cfg"
    path.write_text(OLD, encoding="utf-8")
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(RACER), str(path), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("alice", "bob")
    ]
    outputs = {}
    try:
        for racer in racers:
            assert racer.stdout is not None
            assert racer.stdout.readline() == "ready\n"
        for racer in racers:  # go together
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.close()
        for name, racer in zip(("alice", "bob"), racers, strict=True):
            assert racer.wait(60) == 0
            assert racer.stdout is not None
            outputs[name] = racer.stdout.read()
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
            if racer.stdout is not None:
                racer.stdout.close()
    winners = [name for name, out in outputs.items() if out == "saved\n"]
    losers = [name for name, out in outputs.items() if out.startswith("refused\n")]
    assert len(winners) == 1, outputs
    assert len(losers) == 1, outputs
    on_disk = path.read_text(encoding="utf-8")
    assert on_disk == OLD.replace("NAME = one", f"NAME = {winners[0]}")  # the winner's, whole
    # the refused one got the text on disk, from which the editor shows the diff to redo
    current = outputs[losers[0]].removeprefix("refused\n")
    assert current == on_disk
    theirs = OLD.replace("NAME = one", f"NAME = {losers[0]}")
    diff = cfg_diff("default.cfg", current, theirs)
    assert f"-NAME = {winners[0]}" in diff
    assert f"+NAME = {losers[0]}" in diff
