"""The example's tasks. Each runs in the app context, and db.session is committed on success.

Run them from the home page, or in `flasker shell`: `census.delay().get()`.

flasker delivers a task at least once: a worker killed mid-task (SIGKILL, the OOM killer, a
lost machine) leaves its message to be delivered again, so a task may run twice with the same
arguments. Each task here is written so that a second run changes nothing: census only reads,
adopt sets the cat's house (to the same house again), and fail writes nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select

from flasker import current_project

from .models import Cat, House

celery = current_project.celery
db = current_project.db


@celery.task
def census() -> dict[str, object]:
    """Count the cats of every house (houses with none count 0).

    Read-only, so running it again (a redelivery) changes nothing."""
    rows = db.session.execute(
        select(House.address, func.count(Cat.name))
        .outerjoin(Cat, Cat.house_id == House.id)
        .group_by(House.id, House.address)
        .order_by(House.id)
    ).all()
    houses: dict[str, int] = dict(rows)
    return {"houses": houses, "total": sum(houses.values())}


@celery.task
def adopt(cat_name: str, house_id: int) -> dict[str, object]:
    """Move a cat to another house; fails (and changes nothing) when either is unknown.

    Idempotent: it *sets* the cat's house rather than, say, adding a row or a count, so a run
    repeated after a redelivery leaves the same data (only its result says "from" the house
    the first run moved the cat to)."""
    cat = db.session.get(Cat, cat_name)
    if cat is None:
        raise LookupError(f"no cat named {cat_name!r}")
    house = db.session.get(House, house_id)
    if house is None:
        raise LookupError(f"no house with id {house_id}")
    previous = cat.house.address if cat.house else None
    cat.house = house
    return {"cat": cat.name, "from": previous, "to": house.address}


@celery.task
def fail(message: str = "this task fails on purpose") -> None:
    """Always raise: shows what a failed task looks like in the status page and the console.

    Writes nothing, so a redelivery changes nothing either (a task that raises is
    acknowledged and not delivered again; only a lost worker causes a redelivery)."""
    raise RuntimeError(message)
