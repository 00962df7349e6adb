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
    ],
    "The operator console (flasker-console): cfg editor, overview, endpoints, tasks, workers.",
)
