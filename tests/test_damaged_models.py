"""Damaged model folders: each gives one project error naming the file, and nothing is modified.

Every damage below once raised a third-party traceback or, worse, loaded a model with random or
missing layers. Each test damages a copy of a real saved model (the tiny ones from conftest) and
checks the error type, that the message names the folder or file, and that the folder's bytes are
unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import workbench
from workbench.errors import ModelUnavailableError, NonFiniteLogitsError, WorkbenchError


def _edit_json(name: str, change: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        data = json.loads((folder / name).read_text())
        replaced = change(data)
        (folder / name).write_text(json.dumps(data if replaced is None else replaced))

    return damage


def _edit_weights(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        tensors = load_file(folder / "model.safetensors")
        change(tensors)
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})

    return damage


def _truncate(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _first_weight_nan(tensors: dict) -> None:
    name = sorted(tensors)[0]
    tensors[name] = torch.full_like(tensors[name], float("nan"))


def _drop_a_layer(tensors: dict) -> None:
    for name in [n for n in tensors if ".layers.1." in n]:
        del tensors[name]


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "config is not JSON": (lambda f: (f / "config.json").write_text("{ not json"), "config.json"),
    "config of an unknown model type": (
        _edit_json("config.json", lambda c: c.update(model_type="nonsense")),
        "config.json",
    ),
    "weights missing": (lambda f: (f / "model.safetensors").unlink(), "weights cannot be read"),
    "weights truncated": (_truncate, "weights cannot be read"),
    "weights of another vocabulary": (
        _edit_weights(lambda t: [t.update({k: v[:40]}) for k, v in list(t.items()) if "embed_tokens" in k]),
        "weights",
    ),
    "a layer missing from the weights": (_edit_weights(_drop_a_layer), "missing from the weights"),
    "NaN weights": (_edit_weights(_first_weight_nan), "NaN or infinite"),
    "tokenizer missing": (
        lambda f: [(f / n).unlink() for n in ("tokenizer.json", "tokenizer_config.json")],
        "no usable tokenizer",
    ),
    "workbench.json not JSON": (
        lambda f: (f / "workbench.json").write_text("trained_block_sizes: 4"),
        "workbench.json",
    ),
    "workbench.json a list": (lambda f: (f / "workbench.json").write_text("[4, 8]"), "workbench.json"),
    "workbench.json bad block sizes": (
        _edit_json("workbench.json", lambda w: w.update(trained_block_sizes="4,8")),
        "trained_block_sizes",
    ),
    "workbench.json bad defaults": (
        _edit_json("workbench.json", lambda w: w.update(default_settings={"temperature": -1})),
        "default_settings",
    ),
}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("kind", ["diffusion", "autoregressive"])
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_folder_is_one_clear_error(tmp_path, diffusion_folder, ar_folder, kind, damage):
    folder = tmp_path / "damaged"
    shutil.copytree(diffusion_folder if kind == "diffusion" else ar_folder, folder)
    if not (folder / "workbench.json").exists():
        (folder / "workbench.json").write_text(json.dumps({"trained_block_sizes": [4]}))
    apply, expected = DAMAGES[damage]
    apply(folder)
    before = _digest(folder)
    with pytest.raises(WorkbenchError) as caught:
        workbench.load(str(folder), device="cpu")
    message = str(caught.value)
    assert isinstance(caught.value, ModelUnavailableError), message
    assert str(folder) in message and expected in message
    assert _digest(folder) == before  # nothing given to the program is modified


def test_nan_logits_stop_the_run_with_a_clear_error(autoregressive):
    weight = autoregressive.model.get_output_embeddings().weight
    saved = weight.detach().clone()
    try:
        with torch.no_grad():
            weight[3] = float("inf")  # one token's score becomes inf - inf = NaN under the soft cap
            weight[4] = float("-inf")
        with pytest.raises(NonFiniteLogitsError, match="NaN or infinite logits at forward pass 1"):
            autoregressive.generate("once upon a time", max_new_tokens=3, seed=0)
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert autoregressive.generate("once upon a time", max_new_tokens=3, seed=0).new_tokens > 0  # still usable
