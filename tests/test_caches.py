"""The one rule for cache folders (``ltsweep.caches``): every cache of ltsweep lands under one
root, chosen by ``$LTSWEEP_CACHE``, ``$XDG_CACHE_HOME`` or the home directory, and the compile
cache's own variable still moves it alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsweep.caches import cache_root
from ltsweep.core.compile import cache_dir as compile_cache
from ltsweep.core.data.image_folder.decoding import cache_dir as folder_stats_cache
from ltsweep.storage.store import cache_dir as store_copy


def _every_cache() -> dict[str, Path]:
    return {
        "compile": compile_cache(),
        "image folder statistics": folder_stats_cache(),
        "object-store working copy": store_copy("s3://bucket/sweeps/demo"),
    }


@pytest.mark.parametrize(
    ("env", "root"),
    [
        ({"LTSWEEP_CACHE": "{tmp}/mine", "XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/mine"),
        ({"XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/xdg/ltsweep"),
        ({"HOME": "{tmp}/home"}, "{tmp}/home/.cache/ltsweep"),
    ],
)
def test_every_cache_lives_under_one_root(tmp_path: Path, monkeypatch, env, root) -> None:
    for name in ("LTSWEEP_CACHE", "XDG_CACHE_HOME", "LTSWEEP_COMPILE_CACHE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    expected = Path(root.format(tmp=tmp_path))
    assert cache_root() == expected, f"cache root {cache_root()}, expected {expected} for {env}"
    for what, path in _every_cache().items():
        assert path.parent == expected or path.parent.parent == expected, (
            f"the {what} cache {path} is not a folder of the cache root {expected}"
        )
    folders = {what: path.relative_to(expected).parts[0] for what, path in _every_cache().items()}
    assert len(set(folders.values())) == 3, f"two caches share a folder: {folders}"


def test_the_compile_cache_variable_moves_only_the_compile_cache(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("LTSWEEP_CACHE", str(tmp_path / "root"))
    monkeypatch.setenv("LTSWEEP_COMPILE_CACHE", str(tmp_path / "inductor"))
    assert compile_cache() == tmp_path / "inductor", compile_cache()
    assert folder_stats_cache().parent == tmp_path / "root", folder_stats_cache()
    assert store_copy("gs://b/p").parent.parent == tmp_path / "root", store_copy("gs://b/p")
