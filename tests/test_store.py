"""The results store on real SQLite files: rows, filters, reopening, refusing files that are not
ours (and leaving them byte-for-byte alone), and CSV/Parquet round trips without duplicates."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError, WorkbenchError
from workbench.measure.store import (
    COLUMNS,
    CSV_NULL,
    SCHEMA_VERSION,
    ResultsStore,
    ResultsStoreError,
)

CPU_REASON = "run on cpu: GPU energy not applicable"


def make_result(i: int = 0, text: str = "a cat .", prompt: str = "once upon a time", **overrides) -> GenerationResult:
    fields = dict(
        model="tiny-dg" if i % 2 else "tiny-ar", kind="diffusion" if i % 2 else "autoregressive", prompt=prompt,
        text=text, token_ids=list(range(5 + i)), settings={"max_new_tokens": 8, "entropy_bound": 0.1, "seed": i},
        finish_reason="eos", device="cpu", dtype="float32", load_s=0.8123, prefill_s=0.0217,
        time_to_first_token_s=0.05 + i / 1000, total_s=0.4 + i / 100, step_times_s=[0.01 * (k + 1) for k in range(3)],
        forward_passes=3, prompt_tokens=4,
        telemetry={"window_s": 0.41, "gpu_energy_j": None, "gpu_energy_missing": CPU_REASON,
                   "joules_per_token": None, "joules_per_token_missing": CPU_REASON, "avg_power_w": None,
                   "device_name": None},
    )  # fmt: skip
    fields.update(overrides)
    return GenerationResult(**fields)


def test_add_count_reopen_and_read_back(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = ResultsStore(path)
    ids = [store.add(make_result(i), tags={"who": "ana" if i < 2 else "bo"}) for i in range(3)]
    assert ids == [1, 2, 3] and len(store) == 3
    reopened = ResultsStore(path)
    assert len(reopened) == 3
    frame = reopened.to_dataframe()
    first = frame.iloc[0]
    assert first["model"] == "tiny-ar" and first["new_tokens"] == 5 and first["total_s"] == pytest.approx(0.4)
    assert first["tokens_per_second"] == pytest.approx(5 / 0.4)
    assert first["prompt_hash"] == hashlib.sha256(b"once upon a time").hexdigest()
    assert json.loads(first["settings"]) == {"max_new_tokens": 8, "entropy_bound": 0.1, "seed": 0}
    assert first["joules_per_token_missing"] == CPU_REASON
    assert pd.isna(first["joules_per_token"]) and first["device_name"] is None
    assert json.loads(first["telemetry"])["window_s"] == 0.41
    assert first["timestamp"].endswith("+00:00") and len(first["run_uuid"]) == 36
    assert first["python_version"] and first["torch_version"] and first["workbench_version"]
    assert json.loads(first["packages"])["pandas"] == pd.__version__
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_every_metric_has_a_column():
    assert set(make_result().metrics()) <= set(COLUMNS)


def test_filters(tmp_path):
    store = ResultsStore(tmp_path)  # a folder: the store is results.sqlite inside it
    assert store.path == tmp_path / "results.sqlite"
    for i in range(4):
        store.add(make_result(i), tags={"who": "ana" if i < 2 else "bo", "round": i})
    assert len(store.to_dataframe(kind="diffusion")) == 2
    assert len(store.to_dataframe(model=["tiny-ar", "tiny-dg"])) == 4
    assert store.to_dataframe(tags={"who": "bo"})["new_tokens"].tolist() == [7, 8]
    assert len(store.to_dataframe(tags={"who": "ana", "round": 1}, kind="diffusion")) == 1
    assert len(store.to_dataframe(device_name=None)) == 4
    with pytest.raises(InvalidSettingError, match="colour"):
        store.to_dataframe(colour="red")


def test_bad_tags_are_rejected_before_writing(tmp_path):
    store = ResultsStore(tmp_path / "s.sqlite")
    with pytest.raises(InvalidSettingError, match="tags"):
        store.add(make_result(), tags={"when": object()})
    with pytest.raises(InvalidSettingError, match="tags"):
        store.add(make_result(), tags=["not", "a", "dict"])  # type: ignore[arg-type]
    assert len(store) == 0


def test_environment_variable_chooses_the_default_location(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_STORE", str(tmp_path / "shared" / "workshop.sqlite"))
    store = ResultsStore()
    store.add(make_result())
    assert store.path == tmp_path / "shared" / "workshop.sqlite" and store.path.exists()
    assert len(ResultsStore(tmp_path / "elsewhere.sqlite")) == 0  # the argument wins over the variable


def test_a_file_that_is_not_sqlite_is_refused_and_untouched(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"my thesis draft, do not lose\n" * 100)
    before = path.read_bytes()
    with pytest.raises(ResultsStoreError, match="not an SQLite database") as caught:
        ResultsStore(path)
    assert str(path) in str(caught.value) and isinstance(caught.value, WorkbenchError)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]


def test_a_foreign_sqlite_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE birds (name TEXT)")
        other.execute("INSERT INTO birds VALUES ('robin')")
    other.close()
    before = path.read_bytes()
    with pytest.raises(ResultsStoreError, match=r"SQLite database of something else \(tables: birds\)") as caught:
        ResultsStore(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before


def test_a_store_with_damaged_pages_is_refused_and_untouched(tmp_path):
    path = tmp_path / "s.sqlite"
    store = ResultsStore(path)
    for i in range(60):
        store.add(make_result(i, text="a long story . " * 40))
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every row into the main file
    raw.close()
    damaged = bytearray(path.read_bytes())
    page = 4096
    assert len(damaged) > 4 * page  # the header page stays valid; table pages get garbage
    damaged[2 * page : 4 * page] = bytes(range(256)) * (2 * page // 256)
    path.write_bytes(bytes(damaged))
    with pytest.raises(ResultsStoreError, match="damaged or unreadable SQLite file") as caught:
        ResultsStore(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == bytes(damaged)


def test_a_store_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    ResultsStore(path).add(make_result())
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(ResultsStoreError, match=f"schema {SCHEMA_VERSION + 1}"):
        ResultsStore(path)


def test_an_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.touch()
    ResultsStore(path).add(make_result())
    assert len(ResultsStore(path)) == 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_import_round_trip_without_duplicates(tmp_path, suffix):
    source = ResultsStore(tmp_path / "a.sqlite")
    for i in range(3):
        source.add(make_result(i), tags={"i": i})
    source.add(make_result(9, text="", prompt="NA", time_to_first_token_s=None, step_times_s=[]))  # awkward values
    exported = tmp_path / f"runs{suffix}"
    assert source.export(exported) == 4
    target = ResultsStore(tmp_path / "b.sqlite")
    target.add(make_result(5))  # a run of its own, which the import must leave alone
    assert target.import_(exported) == 4
    assert target.import_(exported) == 0  # the same runs again: nothing duplicated
    assert len(target) == 5
    mine = source.to_dataframe().drop(columns="id")
    theirs = target.to_dataframe(run_uuid=mine["run_uuid"].tolist()).drop(columns="id")
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), theirs.reset_index(drop=True))
    assert theirs.iloc[3]["text"] == "" and theirs.iloc[3]["prompt"] == "NA"


def test_import_refuses_files_that_are_not_exports(tmp_path):
    store = ResultsStore(tmp_path / "s.sqlite")
    pd.DataFrame({"name": ["robin"]}).to_csv(tmp_path / "birds.csv", index=False)
    with pytest.raises(InvalidSettingError, match="run_uuid"):
        store.import_(tmp_path / "birds.csv")
    with pytest.raises(InvalidSettingError, match=r"\.csv or \.parquet"):
        store.export(tmp_path / "runs.xlsx")
    assert len(store) == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(exclude_categories=["Cs"])))
@example(text=CSV_NULL)  # the null marker itself, as text
@example(text="\\\\N")
@example(text="a\rb\r")  # a bare carriage return once split the row
@example(text="\\")
def test_any_text_survives_a_csv_round_trip(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("csv")
    source = ResultsStore(folder / "a.sqlite")
    source.add(make_result(text=text, prompt=text))
    source.export(folder / "runs.csv")
    target = ResultsStore(folder / "b.sqlite")
    target.import_(folder / "runs.csv")
    row = target.to_dataframe().iloc[0]
    assert (row["text"], row["prompt"]) == (text, text)


@pytest.mark.parametrize("where", ["parent is a file", "/dev/null"])
def test_an_unusable_store_path_is_one_clear_error(tmp_path, where):
    # (Read-only files and folders are left out: CI runs as root, which writes through them.)
    if where == "parent is a file":
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "results.sqlite"
    else:
        path = Path("/dev/null")
    with pytest.raises(ResultsStoreError) as caught:
        ResultsStore(path).add(make_result())
    assert str(path) in str(caught.value)


def test_export_never_overwrites_unasked_and_quoted_tag_keys_are_refused(tmp_path):
    store = ResultsStore(tmp_path / "s.sqlite")
    store.add(make_result(), tags={"who": "ana"})
    target = tmp_path / "runs.csv"
    target.write_text("my notes")
    with pytest.raises(InvalidSettingError, match="does not exist yet"):
        store.export(target)
    assert target.read_text() == "my notes"
    assert store.export(target, overwrite=True) == 1
    for bad in ({'w"ho': "ana"},):
        with pytest.raises(InvalidSettingError, match="double quotes"):
            store.to_dataframe(tags=bad)
        with pytest.raises(InvalidSettingError, match="double quotes"):
            store.add(make_result(), tags=bad)
    assert len(store) == 1
