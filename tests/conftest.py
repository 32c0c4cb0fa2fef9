"""Test-wide settings: every on-disk cache goes to a per-session temporary directory."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """Point ``SHINNET_CACHE_DIR`` at a fresh directory so tests never touch ~/.cache/shinnet."""
    previous = os.environ.get("SHINNET_CACHE_DIR")
    os.environ["SHINNET_CACHE_DIR"] = str(tmp_path_factory.mktemp("shinnet-cache"))
    yield
    if previous is None:
        os.environ.pop("SHINNET_CACHE_DIR", None)
    else:
        os.environ["SHINNET_CACHE_DIR"] = previous
