"""Logging from [LOGGING]: level, plain or JSON lines, stderr or a file, per-logger levels."""

from __future__ import annotations

import json
import logging


def test_json_lines_to_a_file(make_project, tmp_path) -> None:
    make_project(
        "[PROJECT]\nNAME = log\n[LOGGING]\nLEVEL = INFO\nFORMAT = json\nFILE = app.log\n"
        'LEVELS = {"noisy": "error"}\n'
    )
    logging.getLogger("houses").info("census done: %d cats", 3)
    logging.getLogger("houses").debug("not written: below INFO")
    logging.getLogger("noisy").warning("not written: noisy is at ERROR")
    try:
        raise ValueError("bad cat")
    except ValueError:
        logging.getLogger("houses").exception("adoption failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    records = [json.loads(line) for line in (tmp_path / "app.log").read_text().splitlines()]
    ours = [r for r in records if r["logger"] in ("houses", "noisy")]
    assert [r["message"] for r in ours] == ["census done: 3 cats", "adoption failed"]
    assert ours[0]["level"] == "INFO"
    assert ours[0]["time"][:2] == "20"
    assert "ValueError: bad cat" in ours[1]["exception"]
    assert logging.getLogger("noisy").level == logging.ERROR


def test_plain_lines_to_stderr(make_project, capfd) -> None:
    make_project("[PROJECT]\nNAME = log\n[LOGGING]\nLEVEL = WARNING\n")
    logging.getLogger("houses").warning("roof leaks")
    logging.getLogger("houses").info("not shown")
    err = capfd.readouterr().err
    assert " WARNING houses: roof leaks" in err
    assert "not shown" not in err


def test_starting_again_replaces_the_handler(make_project, tmp_path) -> None:
    cfg = "[PROJECT]\nNAME = log\n[LOGGING]\nFILE = app.log\n"
    make_project(cfg, folder=tmp_path / "a")
    make_project(cfg, folder=tmp_path / "b")
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "flasker"]
    assert len(ours) == 1
    logging.getLogger("x").warning("once")
    ours[0].flush()
    assert (tmp_path / "b" / "app.log").read_text().count("once") == 1
    assert "once" not in (tmp_path / "a" / "app.log").read_text()


def test_without_a_logging_section_nothing_is_installed(make_project) -> None:
    before = list(logging.getLogger().handlers)
    make_project("[PROJECT]\nNAME = quiet\n")
    assert logging.getLogger().handlers == before
