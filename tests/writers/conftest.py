"""Shared fixtures for the config writer tests: a throwaway HOME and contexts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.agents.writers import ConfigContext

from .helpers import HOST, SERVING_ENDPOINTS, TOKEN


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def make_ctx(home: Path) -> Callable[..., ConfigContext]:
    def build(**overrides: Any) -> ConfigContext:
        fields: dict[str, Any] = {
            "home": home,
            "endpoints": SERVING_ENDPOINTS,
            "api_key": TOKEN,
            "host": HOST,
            "user_email": "jane.doe@example.com",
        }
        fields.update(overrides)
        return ConfigContext(**fields)

    return build


@pytest.fixture
def local_ctx(make_ctx: Callable[..., ConfigContext]) -> ConfigContext:
    """Local mode without Databricks: no model base, key or host."""
    return make_ctx(endpoints={}, api_key=None, host=None)
