from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import tomllib

from coda_jupyter.agents.writers.merge import (
    ConfigFileError,
    child,
    toml_table,
    update_dotenv,
    update_json,
    update_toml,
    update_yaml,
    write_if_changed,
)

from .helpers import mode


def test_write_if_changed_skips_identical_content_but_fixes_mode(tmp_path: Path) -> None:
    path = tmp_path / "f"
    assert write_if_changed(path, "a\n", 0o600)
    assert mode(path) == 0o600
    assert not write_if_changed(path, "a\n", 0o600)
    path.chmod(0o644)
    assert write_if_changed(path, "a\n", 0o600)
    assert mode(path) == 0o600


def test_dotenv_keeps_user_lines_and_leaves_one_line_per_key(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# mine\nOTHER=1\nKEY=old\nexport KEY=older\nDROP=x\n")
    assert update_dotenv(path, {"KEY": "new", "ADDED": "two words", "DROP": None}, 0o600)
    assert path.read_text() == '# mine\nOTHER=1\nKEY=new\nADDED="two words"\n'
    assert not update_dotenv(path, {"KEY": "new", "ADDED": "two words", "DROP": None}, 0o600)


def test_toml_merge_keeps_comments_and_puts_top_level_keys_before_tables(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('# user comment\n[profiles.fast]\nmodel = "x" # inline\n')

    def mutate(doc) -> None:  # type: ignore[no-untyped-def]
        doc["model"] = "ours"
        toml_table(toml_table(doc, "a"), "b")["k"] = 1

    assert update_toml(path, mutate, 0o644)
    text = path.read_text()
    assert "# user comment" in text and "# inline" in text
    parsed = tomllib.loads(text)
    assert parsed == {"model": "ours", "profiles": {"fast": {"model": "x"}}, "a": {"b": {"k": 1}}}


@pytest.mark.parametrize(
    ("name", "content", "update"),
    [
        ("bad.json", "{nope", lambda p: update_json(p, lambda d: None, 0o600)),
        ("list.json", "[1]", lambda p: update_json(p, lambda d: None, 0o600)),
        ("bad.toml", "a = = 1", lambda p: update_toml(p, lambda d: None, 0o600)),
        ("bad.yaml", "a: [1", lambda p: update_yaml(p, lambda d: None, 0o600)),
    ],
)
def test_a_corrupt_file_is_never_overwritten(tmp_path: Path, name: str, content: str, update) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigFileError, match=name):
        update(path)
    assert path.read_text() == content


def test_missing_file_with_nothing_to_add_is_not_created(tmp_path: Path) -> None:
    assert not update_json(tmp_path / "x.json", lambda d: None, 0o600)
    assert not update_dotenv(tmp_path / ".env", {"K": None}, 0o600)
    assert not (tmp_path / "x.json").exists() and not (tmp_path / ".env").exists()


def test_concurrent_merges_into_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(20):
            update_json(path, lambda d, n=n, i=i: child(d, "env").__setitem__(f"K{n}_{i}", "v"), 0o600)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(json.loads(path.read_text())["env"]) == 160


def test_parse_errors_never_quote_the_file(tmp_path: Path) -> None:
    secret = "dapi-do-not-leak"
    cases = {
        "c.json": ('{"api_key": "' + secret + '" oops}', lambda p: update_json(p, lambda d: None, 0o600)),
        "c.toml": (f'api_key = "{secret}" oops', lambda p: update_toml(p, lambda d: None, 0o600)),
        "c.yaml": (f"model:\n  api_key: {secret}\n  - oops", lambda p: update_yaml(p, lambda d: None, 0o600)),
    }
    for name, (content, update) in cases.items():
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(ConfigFileError) as info:
            update(path)
        assert secret not in str(info.value), name
