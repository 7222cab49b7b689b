"""The engine: one `generate()` over autoregressive, block-diffusion and served models.

`generator.Generator` is the interface every model handle satisfies, in-process or behind a server;
`handle` holds what the in-process kinds share, `autoregressive` and `diffusion/` their loops,
`served/` the client for an OpenAI-compatible server. `settings` (one dataclass per kind), `result`
(what a run returns, with its trace), `run_state` (the record a run fills as it goes), `clock`
(device-synchronised time) and `transformers_adapter` (every call into transformers' model
internals) are shared by all of them.

Left out: loading (`workbench.loading` builds handles), measuring beyond time (`workbench.measure`),
and anything about widgets: the engine never imports ipywidgets.
"""
