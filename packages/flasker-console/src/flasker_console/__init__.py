"""The HTMX operator console for Flasker projects.

Not implemented yet: this distribution reserves the import name until its issue lands.
"""

__all__: list[str] = []
