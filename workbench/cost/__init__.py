"""Cost of ownership: is a local GPU cheaper than a hosted API, and how fast could it possibly go?

- `local_setup()` gathers a box's inputs from explicit values, a measured run and a hardware
  profile, labelling each "measured" or "projected"; `compare_costs()` prices it against a `CloudOffer`
  (cost per million tokens, break-even volume or why there is none, payback months);
  `sensitivity_table()` ranks the inputs by how far they move the answer.
- `roofline_for()` gives bandwidth and compute ceilings for AR and block-diffusion decoding.
- `workbench.cost.plots` draws all of it; `workbench.cli.cost` adds `breakeven` and `roofline`
  to the command line.
- `report(path, ...)` writes a self-contained HTML cost-of-ownership report from the results store
  (loaded on first use: it brings Jinja2 and matplotlib); `workbench report` on the command line.
- `load_speed_claims()` gives the vendors' published DiffusionGemma speeds (claims, not measurements).
- The dated, sourced figures live in `workbench/data/*.csv`; every loader takes a path or an
  edited DataFrame instead.

Left out: multi-GPU and multi-user serving, taxes and financing, and answer quality (a cheaper
model that answers worse is a different product).
"""

from typing import Any

from workbench.cost.breakeven import (
    Comparison,
    breakeven_volume,
    capacity_tokens_per_month,
    compare_costs,
    local_usd_per_m_tokens,
    local_usd_per_month,
    payback_months,
)
from workbench.cost.claims import load_speed_claims, speed_claim
from workbench.cost.cloud import (
    CloudOffer,
    GpuRental,
    cloud_offer,
    gpu_rental,
    load_cloud_prices,
    load_gpu_rental,
    rental_usd_per_m_tokens,
)
from workbench.cost.local import LocalSetup, local_setup
from workbench.cost.roofline import (
    Roofline,
    RooflinePoint,
    kv_cache_gb,
    percent_of_ceiling,
    roofline_for,
)
from workbench.cost.sensitivity import sensitivity_table
from workbench.cost.tariffs import (
    Tariff,
    flat_tariff,
    load_tariffs,
    load_tou_tariffs,
    tariff,
)
from workbench.hardware import HardwareProfile, hardware_profile, load_hardware


def __getattr__(name: str) -> Any:
    """`workbench.cost.report`, imported when first asked for (`workbench breakeven --help` stays quick)."""
    if name == "report":
        from workbench.cost.ownership_report import report

        return report
    raise AttributeError(f"module 'workbench.cost' has no attribute {name!r}")


__all__ = [
    "CloudOffer",
    "Comparison",
    "GpuRental",
    "HardwareProfile",
    "LocalSetup",
    "Roofline",
    "RooflinePoint",
    "Tariff",
    "breakeven_volume",
    "capacity_tokens_per_month",
    "cloud_offer",
    "compare_costs",
    "flat_tariff",
    "gpu_rental",
    "hardware_profile",
    "kv_cache_gb",
    "load_cloud_prices",
    "load_gpu_rental",
    "load_hardware",
    "load_speed_claims",
    "load_tariffs",
    "load_tou_tariffs",
    "local_setup",
    "local_usd_per_m_tokens",
    "local_usd_per_month",
    "payback_months",
    "percent_of_ceiling",
    "report",
    "rental_usd_per_m_tokens",
    "roofline_for",
    "sensitivity_table",
    "speed_claim",
    "tariff",
]
