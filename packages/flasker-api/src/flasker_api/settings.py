"""The `[API]` cfg section: what it may contain, typed and documented.

Declared through the `flasker.config_sections` entry point, so core validates it like its own
sections (unknown keys and bad values fail at load time, with file and line) and the console
documents each key. Keyword arguments of `APIManager` win over the section.
"""

from __future__ import annotations

from flasker.schema import Key, SectionSchema

API_SECTION = SectionSchema.of(
    "API",
    [
        Key("URL_PREFIX", default="/api", doc="Where the API is mounted."),
        Key(
            "ADD_ALL_MODELS",
            "bool",
            False,
            "Expose every mapped model (as APIManager(add_all_models=True) does).",
        ),
        Key(
            "DEFAULT_DEPTH",
            "int",
            0,
            "Levels of related models nested in responses when a request gives no depth=.",
        ),
        Key("MAX_DEPTH", "int", 3, "Deepest nesting a client may ask for (depth= or include=)."),
        Key("DEFAULT_LIMIT", "int", 20, "Page size when a request gives no limit=."),
        Key(
            "MAX_LIMIT",
            "int",
            1000,
            "Largest limit= a client may ask for; 0: no maximum (as in flasker 0.1).",
        ),
        Key(
            "EXPAND",
            "bool",
            doc="flasker 0.1's option, kept so 0.1 cfgs load: false (each nested entity written "
            "once, a repeat as its key) is how this API always answers; true is refused.",
        ),
        Key("READ_ONLY", "bool", False, "Allow GET only, on every model."),
        Key(
            "METHODS",
            "dict",
            doc='Methods per collection, a JSON object, e.g. {"cats": ["GET", "POST"]}.',
        ),
        Key(
            "COUNT",
            default="exact",
            choices=("exact", "none"),
            doc="Count the matches of every list (exact) or only when asked (none).",
        ),
    ],
    "The REST API generated from the models (flasker-api).",
)

#: Keyword argument of APIManager for each key (the same name, lower case).
OPTION_NAMES = {key.lower(): key for key in API_SECTION.keys}
