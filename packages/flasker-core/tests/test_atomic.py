"""Atomic writes and the write lock, proven with real processes that crash and race."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flasker import load_config
from flasker._atomic import atomic_write, locked, remove_temp_files

OLD = "# the houses project\n[PROJECT]\nNAME = houses\nMODULES = app.models\n"
NEW = "[PROJECT]\nNAME = villas\n" + "# padding\n" * 10_000

CRASH_BEFORE_RENAME = """
import os, signal, sys
from pathlib import Path
from flasker import _atomic

target = Path(sys.argv[1])

def crash(src, dst):
    # the temp file is complete and fsynced: report it, then die before the rename
    print(src, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

_atomic.os.replace = crash
_atomic.atomic_write(target, sys.argv[2])
"""


def run_python(script: str, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def test_atomic_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "default.cfg"
    target.write_text(OLD)
    atomic_write(target, NEW)
    assert target.read_text() == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.cfg"]


def test_atomic_write_creates_a_missing_file(tmp_path: Path) -> None:
    target = tmp_path / "new.cfg"
    atomic_write(target, OLD)
    assert target.read_text() == OLD
    assert target.stat().st_mode & 0o777 == 0o644


def test_atomic_write_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "secret.cfg"
    target.write_text(OLD)
    target.chmod(0o600)
    atomic_write(target, NEW)
    assert target.stat().st_mode & 0o777 == 0o600


def test_atomic_write_keeps_line_endings_as_given(tmp_path: Path) -> None:
    target = tmp_path / "windows.cfg"
    atomic_write(target, "[PROJECT]\r\nNAME = x\r\n")
    assert target.read_bytes() == b"[PROJECT]\r\nNAME = x\r\n"


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "default.cfg"
    target.write_text(OLD)
    before = target.read_bytes()
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "[PROJECT]\nNAME = \udcff\n")  # a lone surrogate cannot be UTF-8
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.cfg"]


def test_crash_before_the_rename_leaves_the_old_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "default.cfg"
    target.write_text(OLD)
    before = target.read_bytes()

    result = run_python(CRASH_BEFORE_RENAME, str(target), NEW)

    assert result.returncode == -signal.SIGKILL, result.stderr
    temp = Path(result.stdout.strip())
    # the process really got as far as a complete temp file...
    assert temp.parent == tmp_path
    assert temp.read_text() == NEW
    # ...and the file a reader opens is still the old one, byte for byte, and loads
    assert target.read_bytes() == before
    config = load_config(target, environ={})
    assert config.name == "houses"
    assert config.modules == ("app.models",)


def test_crash_while_holding_the_lock_does_not_block_the_next_writer(tmp_path: Path) -> None:
    target = tmp_path / "default.cfg"
    target.write_text(OLD)
    script = """
        import os, signal, sys
        from pathlib import Path
        from flasker._atomic import locked
        with locked(Path(sys.argv[1])):
            os.kill(os.getpid(), signal.SIGKILL)
    """
    assert run_python(script, str(target)).returncode == -signal.SIGKILL
    with locked(target):  # the kernel dropped the dead process's lock
        atomic_write(target, NEW)
    assert target.read_text() == NEW


COUNTER = """
import sys
from pathlib import Path
from flasker._atomic import atomic_write, locked, remove_temp_files

target = Path(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # start all writers together
for _ in range(int(sys.argv[2])):
    with locked(target):
        lines = target.read_text().splitlines()
        atomic_write(target, "\\n".join([*lines, sys.argv[3]]) + "\\n")
"""


def test_concurrent_writers_under_the_lock_lose_no_update(tmp_path: Path) -> None:
    """Each writer appends lines in read-modify-replace cycles; none may be lost."""
    target = tmp_path / "log.cfg"
    target.write_text("")
    writers, rounds = 6, 40
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER, str(target), str(rounds), f"writer{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.close()
        for process in processes:
            assert process.wait(timeout=120) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()

    lines = target.read_text().splitlines()
    assert len(lines) == writers * rounds
    for n in range(writers):
        assert lines.count(f"writer{n}") == rounds
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.cfg"]


def test_lock_is_released_when_the_body_raises(tmp_path: Path) -> None:
    target = tmp_path / "default.cfg"
    target.write_text(OLD)
    with pytest.raises(RuntimeError), locked(target):
        raise RuntimeError("boom")
    script = """
        import sys
        from pathlib import Path
        from flasker._atomic import locked
        with locked(Path(sys.argv[1])):
            print("got it")
    """
    result = run_python(script, str(target))
    assert result.stdout == "got it\n"


def test_a_symlinked_file_is_written_through_its_link(tmp_path) -> None:
    target = tmp_path / "dotfiles" / "default.cfg"
    target.parent.mkdir()
    target.write_text("[PROJECT]\nNAME = old\n")
    link = tmp_path / "default.cfg"
    link.symlink_to(target)
    atomic_write(link, "[PROJECT]\nNAME = new\n")
    assert link.is_symlink()
    assert target.read_text() == "[PROJECT]\nNAME = new\n"


def test_temp_files_left_by_a_killed_writer_are_removed_and_nothing_else(tmp_path) -> None:
    folder = tmp_path / "dotfiles"
    folder.mkdir()
    target = folder / "default.cfg"
    target.write_text(OLD)
    link = tmp_path / "default.cfg"  # the cfg is a link: temp files sit beside its target
    link.symlink_to(target)
    result = run_python(CRASH_BEFORE_RENAME, str(link), NEW)
    assert result.returncode == -signal.SIGKILL, result.stderr
    left = Path(result.stdout.strip())
    kept = [".default.cfg.backup.tmp", ".other.cfg.abcd1234.tmp", "default.cfg.abcd1234.tmp"]
    for name in kept:
        (folder / name).write_text("not flasker's")

    with locked(link):
        assert remove_temp_files(link) == [left]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*kept, "default.cfg"])
    assert target.read_text() == OLD
