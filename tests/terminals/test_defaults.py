"""Admission and culling are off locally and on, with CoDA's limits, in Databricks App mode."""

from __future__ import annotations

import pytest

from coda_jupyter.app import CodaApp
from coda_jupyter.terminals.admission import AgentAdmission
from coda_jupyter.terminals.culling import TerminalCuller


@pytest.mark.parametrize("apps_mode", [False, True])
def test_defaults_follow_the_mode(apps_mode: bool) -> None:
    app = CodaApp(databricks_app=apps_mode)
    admission = AgentAdmission(parent=app)
    culler = TerminalCuller(parent=app)
    if apps_mode:
        assert admission.max_sessions == 5
        assert admission.min_free_memory_mib == 1024
        assert culler.idle_timeout == 24 * 3600
        assert 0 < culler.warning_before < culler.idle_timeout
    else:
        assert admission.max_sessions == 0
        assert admission.min_free_memory_mib == 0
        assert culler.idle_timeout == 0


def test_configuration_beats_the_apps_defaults() -> None:
    from traitlets.config import Config

    config = Config()
    config.AgentAdmission.max_sessions = 2
    config.TerminalCuller.idle_timeout = 0
    app = CodaApp(databricks_app=True, config=config)
    assert AgentAdmission(parent=app, config=config).max_sessions == 2
    assert TerminalCuller(parent=app, config=config).idle_timeout == 0
