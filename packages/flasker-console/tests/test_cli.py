"""`flasker console`: the standalone console's command."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from flasker.cli import cli


def test_console_command_is_listed() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert "console" in result.output


def test_standalone_console_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    cfg = tmp_path / "default.cfg"
    cfg.write_text("[PROJECT]\nNAME = Alone\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(cfg), "console", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "no sign-in" in result.output
