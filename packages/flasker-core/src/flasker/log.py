"""Logging from `[LOGGING]`: a level, plain or JSON lines, stderr or a file.

JSON lines (one object per record: time, level, logger, message, exception) are what log
collectors read without parsing rules.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from .config import Config

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "flasker"


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()


def configure_logging(config: Config) -> None:
    """Install flasker's handler on the root logger (replacing an earlier one of ours)."""
    section = config.section("LOGGING")
    root = logging.getLogger()
    for ours in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(ours)
        ours.close()
    if section.get("FILE"):
        handler: logging.Handler = logging.FileHandler(config.folder / section["FILE"])
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    formatter = (
        JsonFormatter() if section.get("FORMAT") == "json" else logging.Formatter(PLAIN_FORMAT)
    )
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(section.get("LEVEL", "INFO"))
    for name, level in (section.get("LEVELS") or {}).items():
        logging.getLogger(name).setLevel(str(level).upper())
