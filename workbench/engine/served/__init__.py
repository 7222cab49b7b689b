"""Models behind an OpenAI-compatible server (vLLM, ...): the same `generate()`, measured on the client.

    handle = workbench.load("http://127.0.0.1:8000/v1")        # or load_served(url, model=..., kind=...)
    result = handle.generate("Once upon a time", temperature=0)
    from workbench.experiments.load_sweep import load_sweep   # pandas, tqdm: imported only when used
    frame = load_sweep(handle, "Once upon a time", levels=(1, 2, 4))

`handle` holds the served handle and its deadlines, `stream` reads one streamed completion,
`load_sweep` measures many users at once.
"""

from workbench.engine.served.handle import Deadlines, ServedModel, load_served

__all__ = ["Deadlines", "ServedModel", "load_served"]
