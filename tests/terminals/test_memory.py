"""Available memory as the kernel reports it: cgroup v2 when the cgroup is limited, else MemAvailable.

The files are written in the kernel's own formats (Documentation/admin-guide/cgroup-v2.rst:
``memory.max`` holds a byte count or ``max``, ``memory.current`` a byte count, ``memory.stat``
``key value`` lines; ``/proc/self/cgroup`` has a ``0::<path>`` line under cgroup v2; proc(5):
``MemAvailable:  <n> kB`` in ``/proc/meminfo``), under a fake root handed to the reader.
"""

from __future__ import annotations

from pathlib import Path

from coda_jupyter.terminals.admission import MemoryReader

MIB = 1024 * 1024


def _meminfo(root: Path, available_kib: int) -> None:
    (root / "proc" / "self").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "meminfo").write_text(
        f"MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   {available_kib} kB\n"
    )


def _cgroup(root: Path, path: str, max_bytes: str, current: int, inactive_file: int = 0) -> None:
    folder = root / "sys" / "fs" / "cgroup" / path.strip("/")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "memory.max").write_text(max_bytes + "\n")
    (folder / "memory.current").write_text(f"{current}\n")
    (folder / "memory.stat").write_text(f"anon {current}\nfile 0\ninactive_file {inactive_file}\nactive_file 0\n")


def _membership(root: Path, line: str) -> None:
    (root / "proc" / "self").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "self" / "cgroup").write_text(line + "\n")


def test_a_limited_cgroup_counts_reclaimable_page_cache_as_available(tmp_path: Path) -> None:
    _meminfo(tmp_path, 20_000_000)
    _membership(tmp_path, "0::/app")
    _cgroup(tmp_path, "/", "max", 10 * 1024 * MIB)
    _cgroup(tmp_path, "/app", str(6 * 1024 * MIB), 5 * 1024 * MIB, inactive_file=512 * MIB)
    assert MemoryReader(tmp_path).available_mib() == 1536


def test_the_tightest_limit_of_the_cgroup_and_its_parents_wins(tmp_path: Path) -> None:
    _meminfo(tmp_path, 20_000_000)
    _membership(tmp_path, "0::/pod/app")
    _cgroup(tmp_path, "/pod", str(2048 * MIB), 1800 * MIB)
    _cgroup(tmp_path, "/pod/app", "max", 1000 * MIB)
    assert MemoryReader(tmp_path).available_mib() == 248


def test_an_unlimited_cgroup_falls_back_to_meminfo(tmp_path: Path) -> None:
    _meminfo(tmp_path, 3 * 1024 * 1024)
    _membership(tmp_path, "0::/")
    _cgroup(tmp_path, "/", "max", 900 * MIB)
    assert MemoryReader(tmp_path).available_mib() == 3072


def test_meminfo_wins_when_the_host_has_less_than_the_cgroup_limit(tmp_path: Path) -> None:
    _meminfo(tmp_path, 400 * 1024)
    _membership(tmp_path, "0::/")
    _cgroup(tmp_path, "/", str(6 * 1024 * MIB), 1024 * MIB)
    assert MemoryReader(tmp_path).available_mib() == 400


def test_cgroup_v1_only_uses_meminfo(tmp_path: Path) -> None:
    # A v1 (or hybrid) host: named hierarchies, no memory.max under /sys/fs/cgroup.
    _meminfo(tmp_path, 1024 * 1024)
    _membership(tmp_path, "4:memory:/process_api/x\n1:cpu:/\n0::/")
    assert MemoryReader(tmp_path).available_mib() == 1024


def test_nothing_readable_is_unknown(tmp_path: Path) -> None:
    assert MemoryReader(tmp_path).available_mib() is None


def test_the_real_machine_reports_something(tmp_path: Path) -> None:
    available = MemoryReader().available_mib()
    assert available is not None and available > 0
