"""Finding the cfg file a command should use.

Order: an explicit path (`-c/--config`), `$FLASKER_CONFIG`, `default.cfg` or the only `*.cfg` in
the current folder, then `[tool.flasker] config = ...` in the nearest `pyproject.toml` above it.
When nothing is found the error lists every place looked at, so the user knows what to create.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from .exceptions import ConfigNotFoundError

ENV_VAR = "FLASKER_CONFIG"
DEFAULT_NAME = "default.cfg"


def find_config(
    explicit: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The cfg file to use, as an absolute path; `ConfigNotFoundError` names where it looked."""
    env = os.environ if environ is None else environ
    here = Path(cwd if cwd is not None else os.getcwd()).absolute()
    if explicit:
        return _existing(here / explicit, "given with -c/--config")
    if env.get(ENV_VAR):
        return _existing(here / env[ENV_VAR], f"named by ${ENV_VAR}")

    looked = [f"${ENV_VAR} (not set)"]
    default = here / DEFAULT_NAME
    if default.is_file():
        return default
    candidates = sorted(p for p in here.glob("*.cfg") if p.is_file())
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise ConfigNotFoundError(
            f"several cfg files in {here} ({names}) and none is {DEFAULT_NAME}: "
            f"choose one with -c, e.g. flasker -c {candidates[0].name} ..."
        )
    looked.append(f"{DEFAULT_NAME} or *.cfg in {here} (none)")

    pyproject = _nearest_pyproject(here)
    if pyproject is not None:
        configured = _tool_flasker_config(pyproject)
        if configured is not None:
            return _existing(pyproject.parent / configured, f"named in {pyproject} [tool.flasker]")
        looked.append(f"[tool.flasker] config in {pyproject} (not set)")
    else:
        looked.append(f"pyproject.toml in {here} or above (none)")
    raise ConfigNotFoundError(
        "no cfg file found; looked at: "
        + "; ".join(looked)
        + ". Create one with 'flasker new', or pass -c PATH."
    )


def _existing(path: Path, origin: str) -> Path:
    if not path.is_file():
        raise ConfigNotFoundError(f"{path} ({origin}) does not exist or is not a file")
    return path.resolve()


def _nearest_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _tool_flasker_config(pyproject: Path) -> str | None:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigNotFoundError(f"{pyproject} cannot be read: {error}") from None
    value = data.get("tool", {}).get("flasker", {}).get("config")
    if value is not None and not isinstance(value, str):
        raise ConfigNotFoundError(f"{pyproject}: [tool.flasker] config must be a string path")
    return value
