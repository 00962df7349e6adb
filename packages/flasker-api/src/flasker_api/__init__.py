"""REST endpoints generated from Flasker models, with OpenAPI.

Not implemented yet: this distribution reserves the import name until its issue lands.
"""

__all__: list[str] = []
