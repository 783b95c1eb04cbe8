from __future__ import annotations

import configparser
from collections.abc import Callable
from pathlib import Path

from coda_jupyter.agents.writers import ConfigContext
from coda_jupyter.agents.writers import databricks

from .helpers import HOST, ROTATED, TOKEN, mode, snapshot


def test_written_content(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    path = home / ".databrickscfg"
    assert databricks.write(make_ctx(host="adb-123.4.azuredatabricks.net/")) == [path]
    assert path.read_text() == f"[DEFAULT]\nhost = {HOST}\ntoken = {TOKEN}\n\n"
    assert mode(path) == 0o600


def test_other_profiles_survive_and_keys_keep_case(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    path = home / ".databrickscfg"
    path.write_text(
        "[DEFAULT]\nhost = https://old\ntoken = old\ncluster_id = 0101\n\n"
        "[prod]\nhost = https://prod\nclient_ID = abc\ntoken = p%ssword\n"
    )
    databricks.write(make_ctx())
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    assert dict(parser.defaults()) == {"host": HOST, "token": TOKEN, "cluster_id": "0101"}
    assert parser.get("prod", "token") == "p%ssword" and "client_ID" in parser.options("prod")


def test_second_run_is_a_no_op_and_local_mode_writes_nothing(
    make_ctx: Callable[..., ConfigContext], local_ctx: ConfigContext, home: Path
) -> None:
    databricks.write(make_ctx())
    before = snapshot(home)
    assert databricks.write(make_ctx()) == []
    assert snapshot(home) == before
    (home / ".databrickscfg").unlink()
    assert databricks.write(local_ctx) == []
    assert not (home / ".databrickscfg").exists()


def test_token_update_rewrites_only_the_token(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    path = home / ".databrickscfg"
    path.write_text("[DEFAULT]\nhost = https://mine\ntoken = old\n\n[x]\nhost = https://x\n\n")
    assert databricks.update_token(make_ctx(databricks_token=ROTATED)) == [path]
    assert path.read_text() == f"[DEFAULT]\nhost = https://mine\ntoken = {ROTATED}\n\n[x]\nhost = https://x\n\n"
    assert databricks.update_token(make_ctx(databricks_token=ROTATED)) == []
