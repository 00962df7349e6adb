"""flasker 0.1's import paths `flasker.ext.api` / `flasker.ext.auth`: re-exports of the optional
packages, and a message naming the package to install when one is missing."""

from __future__ import annotations

import importlib
import sys

import pytest

from flasker.ext._optional import MissingExtensionError

EXTENSIONS = [("api", "flasker_api", "flasker-api"), ("auth", "flasker_auth", "flasker-auth")]


@pytest.fixture
def fresh_ext(monkeypatch):
    """Forget flasker.ext.* so that each import runs the module again."""
    for name in ("api", "auth"):
        monkeypatch.delitem(sys.modules, f"flasker.ext.{name}", raising=False)
    yield
    for name in ("api", "auth"):
        sys.modules.pop(f"flasker.ext.{name}", None)


@pytest.mark.parametrize(("ext", "module", "distribution"), EXTENSIONS)
def test_missing_package_names_what_to_install(fresh_ext, monkeypatch, ext, module, distribution):
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(ImportError) as raised:
        importlib.import_module(f"flasker.ext.{ext}")
    assert isinstance(raised.value, MissingExtensionError)
    assert str(raised.value) == (
        f"flasker.ext.{ext} needs the {distribution} package: pip install {distribution}"
    )
    # a 0.1-era optional import falls back as it did when the extension was missing
    name = {"api": "APIManager", "auth": "GoogleAuthManager"}[ext]
    namespace: dict[str, object] = {}
    exec(
        f"try:\n    from flasker.ext.{ext} import {name}\nexcept ImportError:\n    {name} = None\n",
        namespace,
    )
    assert namespace[name] is None


@pytest.mark.parametrize(("ext", "module", "distribution"), EXTENSIONS)
def test_installed_package_is_re_exported(fresh_ext, ext, module, distribution) -> None:
    package = importlib.import_module(module)
    shim = importlib.import_module(f"flasker.ext.{ext}")
    assert shim.__all__ == list(package.__all__)
    for name in package.__all__:
        assert getattr(shim, name) is getattr(package, name)


def test_a_broken_dependency_inside_the_package_is_not_disguised(
    fresh_ext, monkeypatch, tmp_path
) -> None:
    fake = tmp_path / "flasker_api"
    fake.mkdir()
    (fake / "__init__.py").write_text("import dependency_the_package_forgot\n__all__ = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "flasker_api", raising=False)
    try:
        with pytest.raises(ModuleNotFoundError) as raised:
            importlib.import_module("flasker.ext.api")
        assert raised.value.name == "dependency_the_package_forgot"
        assert not isinstance(raised.value, MissingExtensionError)
    finally:
        sys.modules.pop("flasker_api", None)
