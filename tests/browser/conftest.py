"""Fixtures for browser tests: one JupyterLab per module, a fresh Chromium page per test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from .lab import CHROMIUM, CHROMIUM_ARGS, Lab, chromium_available, running_lab

pytestmark = pytest.mark.browser


# Module scope: Playwright's sync API keeps its event loop running while open,
# which would break the pytest-jupyter tests that run after the browser ones.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not chromium_available():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs it with apt-get")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            artifacts = Path(__file__).parent.parent / ".artifacts"
            artifacts.mkdir(exist_ok=True)
            page.screenshot(path=str(artifacts / f"{request.node.name}.png"))
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


def lab_fixture(tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs: object) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp(name), **kwargs) as lab:  # type: ignore[arg-type]
        yield lab


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """Replace pytest-jupyter's per-test loop with one that is never made current:
    Playwright's sync API runs its own loop in these tests."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
