"""The REST API over the example's models: `/api/houses/`, `/api/cats/`, `/api/docs`.

Every model is exposed (flasker 0.1's `add_all_models`). `House.cat_count` is a read-only
property over a relation; declaring `count="cats"` lets the database count every house's cats
in the query that reads the houses: no cat is loaded, no extra query is run. (The Python body
is what code outside the API sees; `loads=["cats"]` would instead load the cats of a page with
one extra query.)
"""

from __future__ import annotations

from flasker import current_project
from flasker.ext.api import APIManager

from .models import House

api = current_project.register_manager(APIManager(add_all_models=True))


@api.property(count="cats", model=House)
def cat_count(house: House) -> int:
    """How many cats live in the house."""
    return len(house.cats)
