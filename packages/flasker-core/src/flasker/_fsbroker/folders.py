"""Where the embedded broker keeps its files, under the project's state folder, and the
Celery settings that point a project at them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Seconds a message may wait in a transient queue before that queue counts as abandoned (and
#: a hidden file a process was writing or taking counts as left behind).
DEFAULT_MAX_AGE = 120.0


@dataclass(frozen=True)
class BrokerFolders:
    """Where the embedded broker keeps its files, under the project's state folder."""

    root: Path

    @property
    def queue(self) -> Path:
        return self.root / "broker" / "queue"

    @property
    def control(self) -> Path:
        return self.root / "broker" / "control"

    @property
    def processed(self) -> Path:
        return self.root / "broker" / "processed"

    @property
    def unacked(self) -> Path:
        return self.root / "broker" / "unacked"

    @property
    def bad(self) -> Path:
        """Message files that could not be read, kept for the operator (made when needed)."""
        return self.root / "broker" / "bad"

    @property
    def results(self) -> Path:
        return self.root / "results.sqlite"

    def create(self) -> None:
        for folder in (self.queue, self.control, self.processed, self.unacked):
            folder.mkdir(parents=True, exist_ok=True)

    def celery_settings(self) -> dict[str, Any]:
        """Celery settings for this broker and its SQLite result store."""
        return {
            # a host, even unused, keeps kombu from warning "No hostname was supplied"
            "broker_url": "filesystem://localhost//",
            "broker_transport": "flasker._fsbroker:Transport",
            "broker_transport_options": {
                "data_folder_in": str(self.queue),
                "data_folder_out": str(self.queue),
                "control_folder": str(self.control),
                "processed_folder": str(self.processed),
                "unacked_folder": str(self.unacked),
                "bad_folder": str(self.bad),
                "store_processed": False,
            },
            "result_backend": f"db+sqlite:///{self.results}",
        }
