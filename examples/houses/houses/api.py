"""The REST API over the example's models: `/api/houses/`, `/api/cats/`, `/api/docs`.

Every model is exposed (flasker 0.1's `add_all_models`). `House.cat_count` is a read-only
property computed from a relation; declaring `loads=["cats"]` lets the API load every house's
cats with one query per page instead of one per house.
"""

from __future__ import annotations

from flasker import current_project
from flasker.ext.api import APIManager

from .models import House

api = current_project.register_manager(APIManager(add_all_models=True))


@api.property(loads=["cats"], model=House)
def cat_count(house: House) -> int:
    """How many cats live in the house."""
    return len(house.cats)
