"""CPU package energy from Intel RAPL counters (also exposed for AMD Zen by recent Linux kernels).

Reads `/sys/class/powercap/intel-rapl:N/energy_uj` (microjoules, one counter per CPU package) before
and after a window and sums the packages. Each counter wraps at `max_energy_range_uj`; one wrap per
window is undone (a second wrap needs many minutes at full load, longer than any one generation).

What this leaves out, on purpose: sub-zones (`intel-rapl:0:0` core, `:1` DRAM) are part of their
package and would be counted twice; the figure covers the whole package, every process on it, not
just this Python process. Where the counters are missing (not Linux, a VM or container without
powercap) or unreadable (`energy_uj` is root-only on most kernels since 2020), the reading is `None`
with that reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbench.measure.telemetry.reasons import describe

POWERCAP = Path("/sys/class/powercap")
_PACKAGE_ZONE = re.compile(r"intel-rapl:\d+")  # top level only: "intel-rapl:0", not "intel-rapl:0:0"


@dataclass(frozen=True)
class RaplZone:
    name: str  # e.g. "package-0"
    energy_file: Path
    max_energy_uj: int

    def read_uj(self) -> int:
        return int(self.energy_file.read_text())


def package_zones(root: Path = POWERCAP) -> list[RaplZone]:
    """Top-level RAPL zones under `root`; raises OSError when there are none or they are unreadable."""
    directories = sorted(p for p in root.glob("intel-rapl:*") if _PACKAGE_ZONE.fullmatch(p.name))
    if not directories:
        raise FileNotFoundError(f"no RAPL zones under {root}/intel-rapl:* (not Linux, or a VM/container without them)")
    zones = []
    for directory in directories:
        zone = RaplZone(
            name=(directory / "name").read_text().strip(),
            energy_file=directory / "energy_uj",
            max_energy_uj=int((directory / "max_energy_range_uj").read_text()),
        )
        zone.read_uj()  # fail now, not at the end of a window, when the counter is root-only
        zones.append(zone)
    return zones


def counter_delta_uj(before: int, after: int, max_energy_uj: int) -> int:
    """Energy between two readings of a counter that wraps to zero after `max_energy_uj`."""
    if after >= before:
        return after - before
    return after + (max_energy_uj - before)


class CpuEnergyWindow:
    """`start()` / `stop()` around some work; `stop()` returns (joules, None) or (None, reason).

    Neither method raises: a CPU figure that cannot be read must not stop a generation.
    """

    def __init__(self, root: Path = POWERCAP) -> None:
        self.root = root
        self._zones: list[RaplZone] = []
        self._before: list[int] = []
        self._missing: str | None = "window not started"

    def start(self) -> None:
        try:
            self._zones = package_zones(self.root)
            self._before = [zone.read_uj() for zone in self._zones]
            self._missing = None
        except (OSError, ValueError) as error:
            self._missing = f"no CPU energy (RAPL): {describe(error)}"

    def stop(self) -> tuple[float | None, str | None]:
        if self._missing is not None:
            return None, self._missing
        try:
            after = [zone.read_uj() for zone in self._zones]
        except (OSError, ValueError) as error:
            return None, f"no CPU energy (RAPL): {describe(error)}"
        total_uj = sum(
            counter_delta_uj(b, a, zone.max_energy_uj) for zone, b, a in zip(self._zones, self._before, after)
        )
        return total_uj / 1e6, None
