"""Uploads lose nothing and write nothing outside their folder: same-named files, unsafe names,
the size limit, and the limit read from the app's own config file."""

from __future__ import annotations

import os
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


def test_a_name_is_measured_in_bytes_not_characters(tmp_path: Path) -> None:
    emoji = (
        "📦" * 100 + ".jsonl"
    )  # 106 characters, 406 bytes: the old 200-character check passed it
    fits = "ж" * 124 + ".jsonl"  # 130 characters, 254 bytes
    stored = store_uploads([(emoji, b"{}\n"), (fits, b"{}\n")], tmp_path, MB)
    assert [p.name for p in stored.paths] == [fits] and stored.paths[0].read_bytes() == b"{}\n"
    (why,) = stored.refused
    assert "406 bytes in UTF-8, over the 255 bytes a file name may have" in why


def test_a_name_utf8_cannot_write_is_refused_not_raised(tmp_path: Path) -> None:
    stored = store_uploads([("faq\udc80.jsonl", b"{}\n"), ("ok.jsonl", b"{}\n")], tmp_path, MB)
    assert [p.name for p in stored.paths] == ["ok.jsonl"]
    (why,) = stored.refused
    assert why.startswith("'faq\\\\udc80.jsonl' holds a character UTF-8 cannot write (position 4)")


@pytest.mark.parametrize(
    "name",
    ["faq\n.jsonl", "faq\r.jsonl", "\x1b[31mfaq.jsonl", "faq\u2028.jsonl", "x\u202elnosj.exe"],
)
def test_names_with_controls_or_bidi_overrides_are_refused(tmp_path: Path, name: str) -> None:
    stored = store_uploads([(name, b"{}\n")], tmp_path, MB)
    assert not stored.paths and "rename the file" in stored.refused[0]
    assert not any(c in stored.refused[0] for c in "\n\r\x1b\u2028\u202e")  # shown escaped


def test_a_renamed_duplicate_still_fits_the_name_limit(tmp_path: Path) -> None:
    long = "ж" * 124 + ".jsonl"  # 254 bytes: " (2)" would make it 258
    stored = store_uploads([(long, b"1\n"), (long, b"2\n")], tmp_path, MB)
    assert not stored.refused and [p.read_bytes() for p in stored.paths] == [b"1\n", b"2\n"]
    second = stored.paths[1].name
    assert second.endswith(" (2).jsonl") and len(second.encode()) <= 255


def test_file_system_errors_become_messages_and_lose_nothing_else(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the upload folder should be", encoding="utf-8")
    stored = store_uploads([("a.jsonl", b"{}\n"), ("b.jsonl", b"{}\n")], blocked, MB)
    assert not stored.paths and len(stored.refused) == 2
    assert all("could not be written to the upload folder" in why for why in stored.refused)
    # one file's place taken by a folder: that file is refused, the other is written
    first = store_uploads([("a.jsonl", b"{}\n"), ("b.jsonl", b"[]\n")], tmp_path / "up", MB)
    folder = first.paths[0].parent
    for path in first.paths:
        path.unlink()
    (folder / "a.jsonl").mkdir()
    again = store_uploads([("a.jsonl", b"{}\n"), ("b.jsonl", b"[]\n")], tmp_path / "up", MB)
    assert [p.name for p in again.paths] == ["b.jsonl"]
    (why,) = again.refused
    assert why.startswith("'a.jsonl' could not be written") and "directory" in why.lower()


def test_the_same_upload_is_not_written_again(tmp_path: Path) -> None:
    files = [("2026-03-01-faq.jsonl", b'{"prompt": "a?", "completion": "b"}\n')]
    first = store_uploads(files, tmp_path, MB)
    os.utime(first.paths[0], ns=(10**18, 10**18))  # an mtime no write today could leave
    again = store_uploads(files, tmp_path, MB)
    assert again.paths == first.paths
    assert again.paths[0].stat().st_mtime_ns == 10**18  # so the page's cached read still holds
    assert not [p for p in first.paths[0].parent.iterdir() if p.name.startswith(".upload.")]
