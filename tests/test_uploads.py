"""Uploads lose nothing and write nothing outside their folder: same-named files, unsafe names,
the size limit, and the limit read from the app's own config file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT
from ui.uploads import MB, store_uploads


def test_two_files_with_the_same_name_are_both_kept(tmp_path: Path) -> None:
    stored = store_uploads(
        [("faq.jsonl", b'{"text": "one"}\n'), ("faq.jsonl", b'{"text": "two"}\n')], tmp_path, MB
    )
    assert [p.name for p in stored.paths] == ["faq.jsonl", "faq (2).jsonl"]
    assert [p.read_bytes() for p in stored.paths] == [b'{"text": "one"}\n', b'{"text": "two"}\n']


@pytest.mark.parametrize(
    "name", ["..", ".", "", "../../etc/passwd", "a/b.jsonl", "c:\\\\x.jsonl", ".env", "x\x00.jsonl"]
)
def test_unsafe_names_are_refused_with_a_message(tmp_path: Path, name: str) -> None:
    stored = store_uploads([(name, b"{}\n"), ("good.jsonl", b"{}\n")], tmp_path / "up", MB)
    assert [p.name for p in stored.paths] == ["good.jsonl"]
    assert len(stored.refused) == 1 and "rename the file" in stored.refused[0]
    assert all((tmp_path / "up") in p.parents for p in stored.paths)


def test_files_over_the_limit_are_refused_and_the_rest_kept(tmp_path: Path) -> None:
    stored = store_uploads([("big.jsonl", b"x" * 2000), ("small.jsonl", b"{}\n")], tmp_path, 1000)
    assert [p.name for p in stored.paths] == ["small.jsonl"]
    assert "over the 1,000-byte upload limit" in stored.refused[0]


def test_the_limit_is_set_in_the_apps_config_and_the_file_watcher_skips_the_virtualenv() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert 1 <= config["server"]["maxUploadSize"] <= 200
    assert {".venv", "work"} <= set(config["server"]["folderWatchBlacklist"])
