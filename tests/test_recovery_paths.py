"""Recovery paths answer with one clear error, never a traceback (class 6 of issue 26).

The store's import (how the side files of a locked store come back) against missing, empty and
damaged files and generated bad cells; export to paths that cannot be written; filters of the wrong
type; a store on a read-only filesystem; empty or deep input files to the CLI; empty frames to the
seam and soak analyses; `quantization=` of the wrong type. Each must raise `InvalidSettingError` (or
`ResultsStoreError`) naming what is wrong, or exit 2 with one error line, and change nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pandas as pd
import pytest
from evaluation_helpers import result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench
from workbench.cli import main
from workbench.errors import InvalidSettingError
from workbench.evaluation import seams, soak
from workbench.measure.store import COLUMNS, ResultsStore, ResultsStoreError
from workbench.tables import DATA_DIR

JUNK_CELLS = st.sampled_from(["abc", "1.5.2", "1e999x", "[]", "{}", "0x10", "9" * 40, "\x00", "é", "--", "1,5", "true"])
NUMERIC = sorted(name for name, kind in COLUMNS.items() if kind in ("INTEGER", "REAL") and name != "id")


@pytest.fixture
def store(tmp_path) -> ResultsStore:
    filled = ResultsStore(tmp_path / "store.sqlite")
    filled.add(result("Once upon a time , a cat .", kind="autoregressive", block_size=None), tags={"who": "ana"})
    return filled


def _refused(call, match: str = "path=") -> None:
    with pytest.raises(InvalidSettingError, match=match):
        call()


# -- import_ -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content",
    [
        ("missing.csv", None),
        ("missing.parquet", None),
        ("empty.csv", b""),
        ("blank.csv", b"\n\n"),
        ("binary.csv", bytes(range(256)) * 4),
        ("truncated.parquet", b"PAR1\x00\x01"),
        ("text.parquet", b"run_uuid,timestamp\n"),
        ("quote.csv", b'"run_uuid","timestamp\n"x'),
    ],
)
def test_import_of_a_missing_empty_or_damaged_file_is_one_clear_error(store, tmp_path, name, content):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    _refused(lambda: store.import_(path))
    assert len(store) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(NUMERIC), junk=JUNK_CELLS)
def test_import_of_an_export_with_a_bad_cell_adds_nothing_or_refuses(store, tmp_path, column, junk):
    exported = tmp_path / "export.csv"
    store.export(exported, overwrite=True)
    frame = pd.read_csv(exported, dtype=str, keep_default_na=False)
    frame[column] = junk
    frame["run_uuid"] = str(uuid.uuid4())  # a new run, so a good cell would be added
    edited = tmp_path / "edited.csv"
    frame.to_csv(edited, index=False)
    before = len(store)
    try:
        added = store.import_(edited)
    except InvalidSettingError as error:
        assert "path=" in str(error) and len(store) == before
    else:
        assert added == 1  # pandas read the cell as a number after all (e.g. "1e999x" never does)


# -- export, filters, read-only filesystems -------------------------------------------------------------


@pytest.mark.parametrize("target", ["no/such/folder/out.csv", "file-as-folder/out.csv", "no/such/out.parquet"])
def test_export_to_an_unwritable_path_is_one_clear_error(store, tmp_path, target):
    (tmp_path / "file-as-folder").write_text("a file, not a folder")
    _refused(lambda: store.export(tmp_path / target))


@pytest.mark.parametrize(
    "filters",
    [{"model": {"a": 1}}, {"model": [{"a": 1}]}, {"model": object()}, {"kind": b"autoregressive"},
     {"new_tokens": [1, [2]]}, {"tags": {"who": {"a": 1}}}, {"tags": {"who": ["ana"]}}],
    ids=repr,
)  # fmt: skip
def test_a_filter_of_the_wrong_type_is_refused(store, filters):
    with pytest.raises(InvalidSettingError, match=f"{next(iter(filters))}="):
        store.to_dataframe(**filters)


def test_a_store_on_a_read_only_filesystem_says_read_only(tmp_path):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root to mount a read-only filesystem in a private namespace")
    script = textwrap.dedent(
        """
        import sys, subprocess
        from workbench.measure.store import ResultsStore, ResultsStoreError
        folder = sys.argv[1]
        ResultsStore(folder + "/store.sqlite")
        subprocess.run(["mount", "-o", "remount,ro", folder], check=True)
        try:
            ResultsStore(folder + "/store.sqlite")
        except ResultsStoreError as error:
            print(error)
        """
    )
    folder = tmp_path / "mnt"
    folder.mkdir()
    shell = f"mount -t tmpfs none {folder} && {sys.executable} -c '{script}' {folder}"
    done = subprocess.run(["unshare", "-m", "sh", "-c", shell], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"cannot mount here: {done.stderr.strip()[:200]}")
    assert "read-only filesystem" in done.stdout and "damaged" not in done.stdout, done.stdout + done.stderr


# -- CLI input files --------------------------------------------------------------------------------------


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, err.getvalue()


@pytest.mark.parametrize("content", ["", "\n", "name\n", "\x00\x01"], ids=repr)
def test_an_empty_hardware_table_in_data_dir_is_one_error_line(tmp_path, content):
    for table in DATA_DIR.glob("*.csv"):
        shutil.copy(table, tmp_path / table.name)
    (tmp_path / "hardware.csv").write_text(content)
    code, err = _cli(["breakeven", "--hardware", "rtx-5090", "--tokens-per-s", "700", "--data-dir", str(tmp_path)])
    assert code == 2 and "Traceback" not in err and len([line for line in err.splitlines() if ": error:" in line]) == 1


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("brackets", ["[]", "{}"])
def test_a_deeply_nested_run_file_is_one_error_line(tmp_path, depth, brackets):
    opening, closing = brackets
    run_file = tmp_path / "run.json"
    nested = (opening + ('"a":' if opening == "{" else "")) * depth
    run_file.write_text(nested + "1" + closing * depth)
    code, err = _cli(["breakeven", "--hardware", "rtx-5090", "--run", str(run_file)])
    assert code == 2 and "Traceback" not in err and "--run" in err or "run=" in err


# -- analyses of empty frames, quantization of the wrong type ----------------------------------------------

EMPTY_FRAMES = [pd.DataFrame(), pd.DataFrame(columns=["check"]), None, [], {}]


@pytest.mark.parametrize("frame", EMPTY_FRAMES, ids=lambda f: type(f).__name__ + str(len(f) if f is not None else ""))
@pytest.mark.parametrize(
    "analysis",
    [seams.error_by_distance, seams.seam_penalty, seams.penalty_by_block_size],
    ids=lambda f: f.__name__,
)
def test_the_seam_analyses_refuse_an_empty_table(frame, analysis):
    _refused(lambda: analysis(frame), match="units=")


@pytest.mark.parametrize("frame", EMPTY_FRAMES + [pd.DataFrame({"tokens": [1]})], ids=lambda f: type(f).__name__)
def test_the_soak_analysis_refuses_a_table_without_its_columns(frame):
    _refused(lambda: soak.analyse(frame), match="timeline=")


@pytest.mark.parametrize("quantization", [["int8"], {"int8": True}, ("int8",), {"int8"}, 8, b"int8", 8.0])
def test_quantization_of_the_wrong_type_is_refused(quantization):
    _refused(lambda: workbench.load("tiny-ar", quantization=quantization), match="quantization=")


def test_the_parameter_is_named_with_the_path(store, tmp_path):
    with pytest.raises(InvalidSettingError) as caught:
        store.import_(tmp_path / "absent.csv")
    assert str(tmp_path / "absent.csv") in str(caught.value)
    assert not isinstance(caught.value, ResultsStoreError)
    assert Path(store.path).exists()
