"""Block diffusion, written out in three separate pieces as diffusers does it.

- `temperature`: the temperature at each denoising step (a constant or DiffusionGemma's schedule);
- `samplers`: which positions of the canvas to accept or commit after one decoder pass;
- `early_exit`: when a canvas is done before its step budget runs out;
- `loop`: the loop that drives the model and those pieces, canvas after canvas, step after step.
"""
