"""What every `flasker` command shares: click's context settings and `pass_info`.

Kept apart from `flasker.cli` (the group, which adds every command) so that the modules of
commands, and extension packages adding their own, import it without importing the group.
"""

from __future__ import annotations

import click

from .loader import ProjectLoader

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
#: Where `flasker server` listens by default, and all that `-r` (flasker 0.1's option) allows.
LOOPBACK = "127.0.0.1"
#: For commands whose unknown options go on to Celery unchanged.
PASSTHROUGH = {**CONTEXT_SETTINGS, "ignore_unknown_options": True, "allow_extra_args": True}

#: What every command receives: the cfg path option and the project, loaded on demand (Flask's
#: name for it; see `flasker.loader.ProjectLoader`).
ScriptInfo = ProjectLoader

pass_info = click.make_pass_decorator(ProjectLoader)
