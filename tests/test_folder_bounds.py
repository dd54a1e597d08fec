"""A folder of logs from someone else: gzip files weigh what they hold, and symlinks stay inside."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from tracebit_pack.cli.main import main
from tracebit_pack.errors import UserError
from tracebit_pack.logs import folder
from tracebit_pack.logs.folder import Source, discover, needs_spilling

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "blog_incident"


def test_gzip_counts_at_its_decompressed_size(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(folder, "IN_MEMORY_BYTES", 1 << 20)
    line = (SCENARIO / "AWS.CloudTrail.jsonl").read_text().splitlines()[0] + "\n"
    text = line * ((2 << 20) // len(line) + 1)  # 2 MB of NDJSON ...
    path = tmp_path / "AWS.CloudTrail.jsonl.gz"
    path.write_bytes(gzip.compress(text.encode(), compresslevel=9))
    assert path.stat().st_size * 10 < 1 << 20  # ... in far less than a tenth of the bound
    assert folder.decompressed_size(path, 4 << 20) == len(text.encode())
    assert needs_spilling([Source("AWS.CloudTrail", path, "ndjson")])


def test_counting_a_gzip_bomb_stops_past_the_cap(tmp_path: Path) -> None:
    member = gzip.compress(bytes(64 << 20), compresslevel=9)  # 64 MB of zeros in ~64 KB
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(member * 16)  # 1 GB once decompressed
    counted = folder.decompressed_size(bomb, 8 << 20)
    assert 8 << 20 < counted <= (8 << 20) + (1 << 20)  # one 1 MB read past the cap, no more


def test_plain_file_counts_at_its_size(tmp_path: Path) -> None:
    path = tmp_path / "Okta.SystemLog.jsonl"
    shutil.copy(SCENARIO / "Okta.SystemLog.jsonl", path)
    assert folder.decompressed_size(path, 1) == path.stat().st_size


def test_symlink_leading_outside_the_folder_is_refused(tmp_path: Path, capsys) -> None:
    secret = tmp_path / "home" / "notes.jsonl"
    secret.parent.mkdir()
    secret.write_text('{"discriminator": {"type": "health_check"}, "private": "notes"}\n')
    data = tmp_path / "data"
    data.mkdir()
    (data / "Tracebit.HealthCheck.jsonl").symlink_to(secret)
    assert main(["replay", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "leads outside the folder" in err


def test_symlinked_folder_leading_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(SCENARIO / "AWS.CloudTrail.jsonl", outside / "trail.jsonl")
    data = tmp_path / "data"
    data.mkdir()
    (data / "AWS.CloudTrail").symlink_to(outside)
    with pytest.raises(UserError, match="leads outside the folder"):
        discover(data)
    (data / "AWS.CloudTrail").unlink()
    (data / "AWS.CloudTrail").mkdir()
    (data / "AWS.CloudTrail" / "2024").symlink_to(outside)  # a nested one is not even descended
    assert discover(data) == []


def test_symlinks_inside_the_folder_are_followed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / ".originals").mkdir(parents=True)
    shutil.copy(SCENARIO / "Tracebit.Alert.jsonl", data / ".originals" / "alerts.jsonl")
    (data / "Tracebit.Alert.jsonl").symlink_to(data / ".originals" / "alerts.jsonl")
    assert [s.log_type for s in discover(data)] == ["Tracebit.Alert"]
