"""Memory plans: what a run needs (weights, KV cache, logits, activations, overhead) against a device's memory.

`plan()` answers before any download; `geometry()` counts a model's parameters exactly from its
configuration on the meta device. Left out: measuring memory (tests and benchmarks do that).
"""

from workbench.loading.memory.geometry import Geometry, geometry
from workbench.loading.memory.plan import MemoryPlan, plan
from workbench.loading.memory.precision import PRECISIONS

__all__ = ["PRECISIONS", "Geometry", "MemoryPlan", "geometry", "plan"]
