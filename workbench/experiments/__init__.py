"""Runs that compare: AR vs diffusion on one prompt (`compare`), grids of settings (`sweep`), and
many users at once against a served model (`load_sweep`).

Each takes `Generator`s (workbench.engine.generator), measures them with `workbench.measure` and
returns tables; none draws anything (plots live beside the tables that feed them).
"""
