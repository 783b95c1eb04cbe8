"""A Chromium page for the app behind the stand-in proxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def apps_page(browser: Any, skip_token_dialog: bool = True, timeout_ms: int = 30_000) -> Iterator[Any]:
    """A fresh page; closed afterwards.

    Apps mode asks for a Databricks token on load; tests about something else
    answer "Later" whenever that dialog shows.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    if skip_token_dialog:
        token_dialog = page.locator(".jp-Dialog").filter(has=page.get_by_role("button", name="Later"))
        page.add_locator_handler(token_dialog, lambda dialog: dialog.get_by_role("button", name="Later").click())
    try:
        yield page
    finally:
        context.close()
