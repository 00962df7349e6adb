"""The operator console at `/console`: the cfg editor, tasks and workers of this project.

It sits behind the example's sign-in (`houses/auth.py`): viewers read, admins change. The
development admin that the printed one-time link signs in is an admin.
"""

from __future__ import annotations

from flasker import current_project
from flasker.ext.console import ConsoleManager

console = current_project.register_manager(ConsoleManager())
