"""What a run measured, and where it is kept.

`measurement.Measurement` is the typed record of one run's figures (speed, energy, machine
conditions) that every reader uses; `telemetry/` takes the readings (NVML GPU energy, RAPL CPU
energy, device state, repeated runs); `conditions` reads what else the machine was doing during a
timed run (and says "busy"); `verdict` turns two sets of runs into words only past the noise;
`store` keeps runs in a SQLite file.

Left out: running models (the engine does) and deciding anything from the figures (experiments,
evaluation and cost do).
"""
