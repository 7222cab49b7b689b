"""The transformers boundary: declared ranges, both ends pinned, one error for an untested release.

CI runs the engine and parity tests twice: on the newest allowed versions (the README's command) and
on constraints/lowest.txt. These tests keep the files that define those two ends honest, and check
that the engine uses no deprecated transformers keyword (a deprecation today is tomorrow's TypeError).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest
import transformers
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from workbench.cli import main
from workbench.errors import UnsupportedVersionError
from workbench.loading.versions import dependency_report, is_supported, require_supported

ROOT = Path(__file__).resolve().parents[1]
ENGINE_DEPENDENCIES = ("torch", "transformers", "gguf")  # the ones the engine reaches into


def _declared() -> dict[str, Requirement]:
    lines = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {canonicalize_name(requirement.name): requirement for requirement in map(Requirement, lines)}


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints" / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            package, version = line.split("==")
            pins[canonicalize_name(package)] = version.strip()
    return pins


@pytest.mark.parametrize("package", ENGINE_DEPENDENCIES)
def test_engine_dependencies_are_bounded_on_both_sides(package):
    operators = {spec.operator for spec in _declared()[package].specifier}
    assert {">=", "<"} <= operators, f"{package} needs a tested lower and upper bound"


@pytest.mark.parametrize("package", ENGINE_DEPENDENCIES)
def test_lowest_constraints_sit_inside_the_declared_range(package):
    pinned = _pins("lowest.txt")[package]
    assert pinned in _declared()[package].specifier


def test_lowest_constraints_test_the_lower_end_of_transformers():
    lower = next(spec.version for spec in _declared()["transformers"].specifier if spec.operator == ">=")
    assert _pins("lowest.txt")["transformers"].startswith(lower)


def test_workshop_constraints_pin_every_dependency_inside_its_range():
    pins = _pins("workshop.txt")
    for name, requirement in _declared().items():
        assert name in pins, f"constraints/workshop.txt does not pin {name}"
        assert pins[name] in requirement.specifier, f"{name}=={pins[name]} is outside {requirement.specifier}"


def test_local_version_labels_do_not_hide_a_version():
    assert is_supported("2.13.0+cpu", ">=2.13,<2.15")
    assert not is_supported("2.15.0+cu128", ">=2.13,<2.15")
    assert not is_supported("not-a-version", ">=2.13")


def test_an_untested_transformers_is_one_clear_error():
    with pytest.raises(UnsupportedVersionError) as caught:
        require_supported("transformers", "5.99.0")
    message = str(caught.value)
    assert "transformers 5.99.0 is installed" in message
    assert str(_declared()["transformers"].specifier) in message
    require_supported("transformers", transformers.__version__)  # the installed one passes


def test_load_refuses_an_untested_transformers_before_any_step(tmp_path, diffusion_folder):
    # What a user who upgraded by hand has: package metadata saying another release. A dist-info
    # folder first on the path is what importlib.metadata (and pip) then report.
    fake = tmp_path / "transformers-5.99.0.dist-info"
    fake.mkdir()
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: transformers\nVersion: 5.99.0\n")
    code = (
        "import workbench\n"
        f"try:\n    workbench.load({str(diffusion_folder)!r}, device='cpu')\n"
        "except workbench.WorkbenchError as error:\n    print(type(error).__name__, error)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.startswith("UnsupportedVersionError transformers 5.99.0 is installed"), done.stdout + done.stderr


def test_the_engine_calls_no_deprecated_transformers_keyword(diffusion, autoregressive):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diffusion.generate("once upon a time", seed=0, max_new_tokens=8, steps=3)
        autoregressive.generate("once upon a time", seed=0, max_new_tokens=4)
    deprecations = [str(w.message) for w in caught if re.search("deprecat", str(w.message), re.IGNORECASE)]
    assert deprecations == []


def test_only_the_adapter_touches_model_internals():
    internals = re.compile(
        r"past_key_values|create_masks_for_generate|create_diffusion_decoder_attention_mask"
        r"|\.model\.(encoder|decoder)\b"
    )
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("workbench", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "transformers_adapter.py" and internals.search(path.read_text())
    ]
    assert offenders == []


def test_doctor_reports_every_declared_dependency(capsys):
    assert main(["doctor", "--json"]) == 0
    report = dependency_report()
    assert set(_declared()) <= set(report["package"])
    assert report.set_index("package").loc["transformers", "installed"] == transformers.__version__
    assert '"all_tested": true' in capsys.readouterr().out
