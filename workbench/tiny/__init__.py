"""The embedded tiny models: their story corpus and checks (`stories/`), word tokenizer
(`tokenizer`), training (`train/`), shipped weights (`weights/`) and workshop exercises
(`exercises`).

The engine never imports this package (an import-linter contract checks it): the tiny models are
ordinary model folders to the engine, loaded like any other.
"""
