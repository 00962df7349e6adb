"""Every error the console raises on purpose.

Web-facing errors carry their HTTP status on the class (as click keeps `exit_code`); the
console renders them as an error page or partial, never a traceback.
"""

from __future__ import annotations

from flasker.exceptions import FlaskerError


class ConsoleError(FlaskerError):
    """Base class of the console's errors; `status` is the HTTP status it answers with."""

    status = 500


class ConsoleSetupError(ConsoleError):
    """The console cannot be mounted as configured (the message says how to fix it)."""


class CSRFError(ConsoleError):
    """An unsafe request came without a valid CSRF token (a stale page or a forged request)."""

    status = 400
