"""The HTMX operator console for Flasker projects.

Mount it in a project (``current_project.register_manager(ConsoleManager())``, served at
``/console``), or run ``flasker console`` to serve it alone over a project's cfg file::

    from flasker import current_project
    from flasker_console import ConsoleManager

    current_project.register_manager(ConsoleManager(url_prefix="/console"))
"""

from .exceptions import ConsoleError, ConsoleSetupError
from .manager import ConsoleManager

__all__ = ["ConsoleError", "ConsoleManager", "ConsoleSetupError"]
