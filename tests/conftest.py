"""Tiny random-init models built in the test session itself (seeded, no downloads).

Each fixture saves a real transformers model and a real tokenizer to a temporary folder, so the
tests exercise `workbench.load()` on a folder exactly as users load their own checkpoints.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

from workbench.tiny.tokenizer import build_word_tokenizer

# Started in the background of a shell without job control (`pytest &` in a script), a process
# inherits SIGINT ignored, Python then installs no KeyboardInterrupt handler, and so do the CLI
# processes the Ctrl-C tests start. Those tests interrupt on purpose: give them Python's handler.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

WORDS = (
    "once upon a time , there was cat dog named lisa tom . she he liked to play in the garden park "
    "one day found red blue ball friend happy sad end"
).split()
VOCAB_SIZE = 64
CANVAS = 8


def tiny_diffusion_model(seed: int = 0, canvas_length: int = CANVAS):
    from transformers import DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion

    torch.manual_seed(seed)
    config = DiffusionGemmaConfig(
        text_config=dict(
            vocab_size=VOCAB_SIZE,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            max_position_embeddings=128,
            num_experts=2,
            top_k_experts=1,
            moe_intermediate_size=32,
            sliding_window=64,
            global_head_dim=16,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=2,
        ),
        vision_config=dict(
            model_type="gemma4_vision",
            hidden_size=16,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=1,
            num_key_value_heads=1,
            head_dim=16,
        ),
        canvas_length=canvas_length,
    )
    model = DiffusionGemmaForBlockDiffusion(config).eval()
    model.generation_config.eos_token_id = 1
    model.generation_config.pad_token_id = 0
    return model


def tiny_ar_model(seed: int = 0):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=128,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    return Gemma3ForCausalLM(config).eval()


def _save(model, folder: Path, extra: dict | None = None) -> Path:
    model.save_pretrained(folder)
    build_word_tokenizer(WORDS, VOCAB_SIZE).save_pretrained(folder)
    if extra is not None:
        (folder / "workbench.json").write_text(json.dumps(extra))
    return folder


@pytest.fixture(scope="session")
def diffusion_folder(tmp_path_factory) -> Path:
    return _save(tiny_diffusion_model(), tmp_path_factory.mktemp("tiny-dg"), {"trained_block_sizes": [4, 8]})


@pytest.fixture(scope="session")
def ar_folder(tmp_path_factory) -> Path:
    return _save(tiny_ar_model(), tmp_path_factory.mktemp("tiny-ar"))


@pytest.fixture(scope="session")
def diffusion(diffusion_folder):
    import workbench

    return workbench.load(str(diffusion_folder), device="cpu")


@pytest.fixture(scope="session")
def autoregressive(ar_folder):
    import workbench

    return workbench.load(str(ar_folder), device="cpu")


@pytest.fixture(scope="session")
def embedded_models():
    """The embedded tiny-ar and tiny-diffusion (real trained weights), loaded once for the session."""
    import workbench

    return workbench.load("tiny-ar", device="cpu"), workbench.load("tiny-diffusion", device="cpu")
