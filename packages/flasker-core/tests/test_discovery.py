"""Which cfg file a command uses: -c, $FLASKER_CONFIG, the current folder, pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from flasker.discovery import find_config
from flasker.exceptions import ConfigNotFoundError


def touch(path: Path, text: str = "[PROJECT]\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def not_found(**kwargs: object) -> str:
    with pytest.raises(ConfigNotFoundError) as error:
        find_config(**kwargs)  # type: ignore[arg-type]
    assert error.value.exit_code == 2
    return str(error.value)


def test_explicit_path_wins_over_everything(tmp_path: Path) -> None:
    touch(tmp_path / "default.cfg")
    touch(tmp_path / "env.cfg")
    chosen = touch(tmp_path / "conf" / "prod.cfg")
    found = find_config("conf/prod.cfg", cwd=tmp_path, environ={"FLASKER_CONFIG": "env.cfg"})
    assert found == chosen


def test_explicit_absolute_path(tmp_path: Path) -> None:
    chosen = touch(tmp_path / "elsewhere" / "site.cfg")
    assert find_config(str(chosen), cwd=tmp_path / "elsewhere", environ={}) == chosen


def test_explicit_path_that_does_not_exist(tmp_path: Path) -> None:
    touch(tmp_path / "default.cfg")
    message = not_found(explicit="missing.cfg", cwd=tmp_path, environ={})
    assert (
        message
        == f"{tmp_path / 'missing.cfg'} (given with -c/--config) does not exist or is not a file"
    )


def test_explicit_path_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    assert "is not a file" in not_found(explicit="conf", cwd=tmp_path, environ={})


def test_environment_variable_comes_next(tmp_path: Path) -> None:
    touch(tmp_path / "default.cfg")
    chosen = touch(tmp_path / "staging.cfg")
    assert find_config(cwd=tmp_path, environ={"FLASKER_CONFIG": "staging.cfg"}) == chosen


def test_environment_variable_naming_a_missing_file(tmp_path: Path) -> None:
    touch(tmp_path / "default.cfg")
    message = not_found(cwd=tmp_path, environ={"FLASKER_CONFIG": "gone.cfg"})
    assert (
        message
        == f"{tmp_path / 'gone.cfg'} (named by $FLASKER_CONFIG) does not exist or is not a file"
    )


def test_empty_environment_variable_is_ignored(tmp_path: Path) -> None:
    chosen = touch(tmp_path / "default.cfg")
    assert find_config(cwd=tmp_path, environ={"FLASKER_CONFIG": ""}) == chosen


def test_default_cfg_in_the_current_folder(tmp_path: Path) -> None:
    chosen = touch(tmp_path / "default.cfg")
    touch(tmp_path / "other.cfg")
    touch(tmp_path / "pyproject.toml", '[tool.flasker]\nconfig = "other.cfg"\n')
    assert find_config(cwd=tmp_path, environ={}) == chosen


def test_the_only_cfg_file(tmp_path: Path) -> None:
    chosen = touch(tmp_path / "houses.cfg")
    touch(tmp_path / "setup.cfg.bak")
    (tmp_path / "folder.cfg").mkdir()  # a folder is not a candidate
    assert find_config(cwd=tmp_path, environ={}) == chosen


def test_several_cfg_files_are_named_and_c_is_asked_for(tmp_path: Path) -> None:
    touch(tmp_path / "prod.cfg")
    touch(tmp_path / "dev.cfg")
    message = not_found(cwd=tmp_path, environ={})
    assert message == (
        f"several cfg files in {tmp_path} (dev.cfg, prod.cfg) and none is default.cfg: "
        "choose one with -c, e.g. flasker -c dev.cfg ..."
    )


def test_uses_the_process_environment_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = touch(tmp_path / "from-env.cfg")
    touch(tmp_path / "default.cfg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLASKER_CONFIG", "from-env.cfg")
    assert find_config() == chosen
    monkeypatch.delenv("FLASKER_CONFIG")
    assert find_config() == tmp_path / "default.cfg"


def test_pyproject_in_a_parent_folder(tmp_path: Path) -> None:
    chosen = touch(tmp_path / "deploy" / "site.cfg")
    touch(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n[tool.flasker]\nconfig = "deploy/site.cfg"\n',
    )
    deep = tmp_path / "src" / "pkg" / "sub"
    deep.mkdir(parents=True)
    assert find_config(cwd=deep, environ={}) == chosen


def test_nearest_pyproject_is_the_one_read(tmp_path: Path) -> None:
    touch(tmp_path / "outer.cfg")
    touch(tmp_path / "pyproject.toml", '[tool.flasker]\nconfig = "outer.cfg"\n')
    inner = touch(tmp_path / "inner" / "inner.cfg")
    touch(tmp_path / "inner" / "pyproject.toml", '[tool.flasker]\nconfig = "inner.cfg"\n')
    work = tmp_path / "inner" / "work"
    work.mkdir()
    assert find_config(cwd=work, environ={}) == inner


def test_nearest_pyproject_without_tool_flasker(tmp_path: Path) -> None:
    touch(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    work = tmp_path / "work"
    work.mkdir()
    message = not_found(cwd=work, environ={})
    assert message == (
        "no cfg file found; looked at: $FLASKER_CONFIG (not set); "
        f"default.cfg or *.cfg in {work} (none); "
        f"[tool.flasker] config in {tmp_path / 'pyproject.toml'} (not set). "
        "Create one with 'flasker new', or pass -c PATH."
    )


def test_pyproject_naming_a_missing_file(tmp_path: Path) -> None:
    touch(tmp_path / "pyproject.toml", '[tool.flasker]\nconfig = "nope.cfg"\n')
    message = not_found(cwd=tmp_path, environ={})
    assert message == (
        f"{tmp_path / 'nope.cfg'} (named in {tmp_path / 'pyproject.toml'} [tool.flasker]) "
        "does not exist or is not a file"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[tool.flasker]\nconfig = 3\n", "[tool.flasker] config must be a string path"),
        ("[tool.flasker\n", "cannot be read"),
    ],
)
def test_unreadable_pyproject(tmp_path: Path, text: str, problem: str) -> None:
    touch(tmp_path / "pyproject.toml", text)
    message = not_found(cwd=tmp_path, environ={})
    assert message.startswith(str(tmp_path / "pyproject.toml"))
    assert problem in message


def test_nothing_found_lists_every_place_looked(tmp_path: Path) -> None:
    # tmp_path has no pyproject.toml above it (it lives under the system temp folder)
    assert not any((p / "pyproject.toml").exists() for p in (tmp_path, *tmp_path.parents))
    message = not_found(cwd=tmp_path, environ={})
    assert message == (
        "no cfg file found; looked at: $FLASKER_CONFIG (not set); "
        f"default.cfg or *.cfg in {tmp_path} (none); "
        f"pyproject.toml in {tmp_path} or above (none). "
        "Create one with 'flasker new', or pass -c PATH."
    )


def test_a_leftover_temp_file_of_an_interrupted_write_is_not_a_candidate(tmp_path: Path) -> None:
    chosen = touch(tmp_path / "houses.cfg")
    touch(tmp_path / ".houses.cfg.k3j2_x.tmp")
    assert find_config(cwd=tmp_path, environ={}) == chosen
