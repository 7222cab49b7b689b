"""Jupyter widgets over the engine: a control panel, a live denoising canvas and an AR-vs-diffusion race.

    from workbench.widgets import ControlPanel
    ControlPanel("tiny-ar", "tiny-diffusion")

Modules, one concept each: `panel` (the control panel that ties the rest together), `controls` (its
setting widgets), `worker` (the background thread runs go in), `canvas_view` (the live
canvas and its step scrubber; its HTML comes from `workbench.export.canvas_html`), `race` (the two
lanes with live numbers), `replay` (a finished race replayed on one clock), `table` (runs so far and
the results store), `throttle` (redraw limiting). The engine never imports this package; sweeps and
frontier plots live in `workbench.experiments.sweep` because they need no widgets.
"""

from workbench.widgets.canvas_view import CanvasView
from workbench.widgets.panel import ControlPanel
from workbench.widgets.race import RaceView
from workbench.widgets.results_table import ResultsTable

__all__ = ["CanvasView", "ControlPanel", "RaceView", "ResultsTable"]
