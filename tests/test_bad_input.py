"""Generated bad input for every public surface: the class of failure, not a list of cases.

Each test draws inputs (hypothesis) and holds the same contract for all of them:
- the Python API: a bad knob raises `InvalidSettingError` naming that knob, before any work;
- each CLI subcommand: exit 0, or exit 2 with one `workbench...: error:` line, never a traceback;
- the data files: an edited cell loads or raises `InvalidSettingError` naming file, row and field,
  and the file is never modified.
Model folders (tests/test_damaged_models.py), the store (test_store*.py) and the network
(test_engine_errors.py) have their own generated or enumerated cases beside their other tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli import main
from workbench.cost import (
    load_cloud_prices,
    load_gpu_rental,
    load_hardware,
    load_speed_claims,
    load_tariffs,
)
from workbench.errors import InvalidSettingError
from workbench.tables import DATA_DIR

# Values people paste, mistype or that programs produce: each is a case for every option.
JUNK = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "-0",
        "1e999",
        "-1e999",
        "nan",
        "inf",
        "1e-320",
        "3.5",
        "07",
        "0x10",
        "1,5",
        "1.5.2",
        "abc",
        "None",
        "null",
        "true",
        "[]",
        "{}",
        "é",
        "\u200b",
        "9" * 40,
        "x" * 500,
        "--json",
        "schedule",
    ]
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse, --help
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def _holds_the_cli_contract(argv: list[str]) -> None:
    code, _, err = _cli(argv)
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        errors = [line for line in err.splitlines() if ": error:" in line]
        assert len(errors) == 1 and errors[0].startswith("workbench"), (argv, err)


BREAKEVEN = [
    "--hardware",
    "--price-usd",
    "--tokens-per-s",
    "--joules-per-token",
    "--power-w",
    "--idle-power-w",
    "--lifetime-years",
    "--hours-per-day",
    "--start-hour",
    "--resale-fraction",
    "--system-overhead",
    "--tariff",
    "--usd-per-kwh",
    "--usd-per-eur",
    "--cloud",
    "--input-usd-per-m",
    "--output-usd-per-m",
    "--batch-discount",
    "--input-per-output",
    "--monthly-tokens",
    "--run-kind",
    "--run-uuid",
]
ROOFLINE = [
    "--hardware",
    "--bandwidth-gb-s",
    "--tflops",
    "--active-params-billion",
    "--weights-read-billion",
    "--kv-gb-per-forward",
    "--canvas-tokens",
    "--steps-per-canvas",
    "--tokens-per-s",
    "--precision",
    "--compute-precision",
    "--kind",
]


@FUZZ
@given(options=st.lists(st.tuples(st.sampled_from(BREAKEVEN), JUNK), min_size=1, max_size=4))
def test_breakeven_bad_options(options):
    _holds_the_cli_contract(
        ["breakeven", "--hardware", "rtx-5090", "--json", *(f"{flag}={value}" for flag, value in options)]
    )


@FUZZ
@given(options=st.lists(st.tuples(st.sampled_from(ROOFLINE), JUNK), min_size=1, max_size=4))
def test_roofline_bad_options(options):
    _holds_the_cli_contract(["roofline", "--json", *(f"{flag}={value}" for flag, value in options)])


COMPARE = [
    "--max-new-tokens", "--temperature", "--steps", "--block-size", "--sampler", "--seed", "--device", "--repeats",
]  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(options=st.lists(st.tuples(st.sampled_from(COMPARE), JUNK), min_size=1, max_size=3), prompt=JUNK)
def test_compare_bad_options(ar_folder, diffusion_folder, options, prompt):
    # The tiny random models keep a run that happens to be valid under a second.
    argv = [
        "compare",
        prompt,
        "--ar",
        str(ar_folder),
        "--diffusion",
        str(diffusion_folder),
        "--no-store",
        "--max-new-tokens=8",
        "--repeats=1",  # one warm run after the cold one keeps a valid example short; the options may override it
        *(f"{flag}={value}" for flag, value in options),
    ]
    _holds_the_cli_contract(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["models", "--jsn"],
        ["doctor", "extra"],
        ["nonsense"],
        [],
        ["compare"],
        ["breakeven", "--data-dir=/nonexistent"],
        ["breakeven", "--store=/no/such.sqlite", "--run-uuid=x"],
    ],
)
def test_other_subcommands_bad_use(argv):
    _holds_the_cli_contract(argv)


KNOBS = [
    "max_new_tokens",
    "temperature",
    "seed",
    "top_k",
    "top_p",
    "steps",
    "block_size",
    "sampler",
    "early_exit",
    "entropy_bound",
    "threshold",
]
BAD_VALUES = st.one_of(
    st.sampled_from([-1, 0, -0.5, float("nan"), float("inf"), 10**12, "", "abc", None, [], {}, True, 1e-30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(knob=st.sampled_from(KNOBS), value=BAD_VALUES)
def test_api_knob_is_valid_or_named(diffusion, knob, value):
    try:
        diffusion.settings(**{knob: value})
    except InvalidSettingError as error:
        assert error.parameter == knob
    # A value the check accepted must also run.
    else:
        diffusion.generate(
            "once upon a time", **{knob: value, "max_new_tokens": 8} if knob != "max_new_tokens" else {knob: value}
        )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(knob=st.sampled_from(KNOBS), value=BAD_VALUES)
def test_api_unknown_or_bad_knob_for_ar_is_named(autoregressive, knob, value):
    try:
        autoregressive.settings(**{knob: value})
    except InvalidSettingError as error:
        assert error.parameter == knob


LOADERS = {
    "hardware.csv": load_hardware,
    "cloud_prices.csv": load_cloud_prices,
    "gpu_rental.csv": load_gpu_rental,
    "tariffs.csv": load_tariffs,
    "speed_claims.csv": load_speed_claims,
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filename=st.sampled_from(sorted(LOADERS)), row=st.integers(0, 5), column=st.integers(0, 12), value=JUNK)
def test_an_edited_data_cell_loads_or_names_its_place(tmp_path_factory, filename, row, column, value):
    path = tmp_path_factory.mktemp("data") / filename
    shutil.copy(DATA_DIR / filename, path)
    table = LOADERS[filename]()  # the bundled file, to pick a real cell
    name = table.columns[column % len(table.columns)]
    index = row % len(table)
    edited = table.astype(object)
    edited.iloc[index, edited.columns.get_loc(name)] = value
    edited.to_csv(path, index=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        LOADERS[filename](str(path))
    except InvalidSettingError as error:
        assert str(path) in error.parameter and (f"row {index + 1}" in error.parameter or "column" in error.parameter)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
