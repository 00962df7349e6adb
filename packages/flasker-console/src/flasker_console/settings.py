"""The `[CONSOLE]` cfg section: what it may contain, typed and documented.

Declared through the `flasker.config_sections` entry point, so core validates it like its own
sections and the console documents its own keys in its cfg editor. Keyword arguments of
`ConsoleManager` win over the section.
"""

from __future__ import annotations

from flasker.schema import Key, SectionSchema

CONSOLE_SECTION = SectionSchema.of(
    "CONSOLE",
    [
        Key("URL_PREFIX", default="/console", doc="Where the console is mounted in the app."),
        Key(
            "CHECK_TIMEOUT",
            "float",
            2.0,
            "Seconds the overview waits for the database and the broker before it reports "
            "them unreachable.",
        ),
        Key(
            "INSPECT_TIMEOUT",
            "float",
            1.5,
            "Seconds the workers page waits for workers to answer Celery's remote control "
            "(inspect) before it lists them as offline.",
        ),
        Key(
            "FLOWER_URL",
            default="",
            doc="Where operators open Flower (e.g. /flower, or https://flower.example.com); the "
            "workers page links to it. Empty: the page names the command that starts Flower "
            "(flasker flower --url-prefix flower).",
        ),
        Key(
            "PROJECTS_ROOT",
            default=None,
            doc="Folder whose projects the Projects page lists (the folder itself when it holds "
            "a cfg, and each subfolder with one); relative to this cfg's folder. Default: the "
            "folder above this project's folder.",
        ),
        Key(
            "EVENTS",
            "bool",
            True,
            "Listen to Celery's task and worker events in the console process (one thread per "
            "process), for the overview's chart of tasks in the last hour, the live workers "
            "table and the task history.",
        ),
        Key(
            "TASK_HISTORY_DAYS",
            "float",
            7.0,
            "Days the console keeps a task in its history (the every-task list and each task's "
            "page) after its last event; older tasks are deleted every ten minutes.",
        ),
    ],
    "The operator console (flasker-console): cfg editor, overview, endpoints, tasks, workers.",
)
