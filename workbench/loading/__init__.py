"""From a name, a folder, a hub id or a URL to a ready model handle (`load.load`).

`registry` lists the models workbench knows and whether each is available offline, `hub` and
`gemma_gguf` fetch or convert weights, `model_folder` reads a folder with one clear error per
damage, `quantization` loads weights at a lower precision, `versions` holds the tested version
ranges, and `memory/` plans memory before anything is downloaded.

Why not `workbench/models/`: `workbench.models()` is a public function (the list of loadable
models), and a package of the same name would shadow it.
"""
