"""The firmware download's in-memory copies stay within their budget (entryway.firmware.download)."""
from __future__ import annotations

from entryway.firmware import download


def test_small_files_are_kept_within_the_total_and_large_ones_are_not(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "MEMORY_MAX_BYTES", 100)
    monkeypatch.setattr(download, "MEMORY_TOTAL_BYTES", 250)
    monkeypatch.setattr(download, "_CONTENT", {})
    files = []
    for i, size in enumerate((100, 100, 100, 101)):
        path = tmp_path / f"f{i}.rom"
        path.write_bytes(bytes([i]) * size)
        files.append(((f"f{i}", str(path), "1.0", f"sha{i}"), path, size))
    for info, path, size in files[:3]:
        assert download._content(info, path, size) == path.read_bytes()
        assert sum(len(kept) for kept in download._CONTENT.values()) <= 250
    info, path, size = files[3]
    assert download._content(info, path, size) is None  # larger than MEMORY_MAX_BYTES: read in chunks
    assert (info[1], info[3]) not in download._CONTENT
