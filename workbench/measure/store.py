"""Every run kept in one SQLite file, for tables, plots and comparisons across people and days.

    store = ResultsStore()                 # or ResultsStore("/shared/workshop"), or $WORKBENCH_STORE
    store.add(result, tags={"who": "ana"})
    store.to_dataframe(model="gemma-3-270m", tags={"who": "ana"})

One row per run: what was asked and produced, every metric of `GenerationResult.metrics()` as a
column, the telemetry (all of it as JSON, the headline figures as columns), and the software and
hardware it ran on. Each row has a random UUID, so exporting to CSV or Parquet and importing
elsewhere, even twice, never duplicates a run.

Safe to share: the file is in WAL mode with a busy timeout, so several notebooks (processes) can add
at once; each `add` is one transaction, so a kernel killed mid-run loses nothing already added. A
shared *folder* must be a local disk (e.g. a JupyterHub's shared volume): SQLite's WAL mode does not
work over network filesystems. A path holding anything other than a workbench store, whether not
SQLite at all or another program's database, raises `ResultsStoreError` and is left untouched.

Left out: the per-step diffusion trace (large; it belongs in its own file) and schema migrations
(there is only schema 1 so far).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import platformdirs

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError, WorkbenchError
from workbench.measure.measurement import Measurement
from workbench.measure.telemetry.environment import (
    cuda_device_name,
    environment,
    package_versions,
)

SCHEMA_VERSION = 1  # PRAGMA user_version
APPLICATION_ID = 0x57424E43  # PRAGMA application_id, "WBNC": marks the file as ours
BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another's transaction before failing
SQLITE_HEADER = b"SQLite format 3\x00"
CSV_NULL = r"\N"  # CSV has no null; this marker keeps None apart from the empty string
DEFAULT_FILE = "results.sqlite"

# Column name -> SQLite type, in table order. `id` is the local row number; `run_uuid` is the identity.
COLUMNS: dict[str, str] = {
    "id": "INTEGER",
    "run_uuid": "TEXT",
    "timestamp": "TEXT",  # UTC, ISO 8601, when the run was added
    "model": "TEXT",
    "kind": "TEXT",
    "device": "TEXT",
    "dtype": "TEXT",
    "settings": "TEXT",  # JSON
    "prompt_hash": "TEXT",  # sha256 of the UTF-8 prompt, to group runs on the same prompt
    "prompt": "TEXT",
    "text": "TEXT",
    "finish_reason": "TEXT",
    # GenerationResult.metrics()
    "new_tokens": "INTEGER",
    "prompt_tokens": "INTEGER",
    "load_s": "REAL",
    "prefill_s": "REAL",
    "time_to_first_token_s": "REAL",
    "total_s": "REAL",
    "tokens_per_second": "REAL",
    "forward_passes": "INTEGER",
    "tokens_per_forward": "REAL",
    "mean_step_s": "REAL",
    "metrics": "TEXT",  # JSON of all metrics, so a metric added later is kept before it gets a column
    # headline telemetry
    "gpu_energy_j": "REAL",
    "gpu_energy_missing": "TEXT",
    "joules_per_token": "REAL",
    "joules_per_token_missing": "TEXT",
    "avg_power_w": "REAL",
    "device_name": "TEXT",
    "telemetry": "TEXT",  # JSON
    "tags": "TEXT",  # JSON
    # where it ran
    "platform": "TEXT",
    "cpu": "TEXT",
    "python_version": "TEXT",
    "torch_version": "TEXT",
    "transformers_version": "TEXT",
    "workbench_version": "TEXT",
    "cuda_device": "TEXT",
    "packages": "TEXT",  # JSON
}
_TELEMETRY_COLUMNS = (
    "gpu_energy_j", "gpu_energy_missing", "joules_per_token", "joules_per_token_missing", "avg_power_w", "device_name",
)  # fmt: skip
_CONSTRAINTS = {"id": "PRIMARY KEY", "run_uuid": "NOT NULL UNIQUE", "timestamp": "NOT NULL"}
_CREATE_TABLE = "CREATE TABLE IF NOT EXISTS runs ({})".format(
    ", ".join(f"{name} {kind} {_CONSTRAINTS.get(name, '')}".strip() for name, kind in COLUMNS.items())
)
_PANDAS_TYPES = {"INTEGER": "Int64", "REAL": "float64", "TEXT": "object"}


class ResultsStoreError(WorkbenchError):
    """The file at a store's path cannot be used as a results store; it was not modified."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(f"results store {path}: {problem}")


class StoreBusyError(ResultsStoreError):
    """Another process held the store's write lock for longer than the busy timeout."""


def default_store_path() -> Path:
    """$WORKBENCH_STORE if set, else `results.sqlite` in the user's data folder."""
    configured = os.environ.get("WORKBENCH_STORE")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("workbench")) / DEFAULT_FILE


class ResultsStore:
    """A SQLite file of runs. `path` may be a file or an existing folder (then `results.sqlite` in it)."""

    def __init__(self, path: str | Path | None = None, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.busy_timeout_s = busy_timeout_s
        path = Path(path).expanduser() if path is not None else default_store_path()
        self.path = (path / DEFAULT_FILE if path.is_dir() else path).absolute()
        if self.path.exists() and not self.path.is_file():  # /dev/null, a socket, a folder named like the file
            raise ResultsStoreError(self.path, "is not a regular file; give a file path or a folder")
        try:
            if self._existing_kind() != "ours":
                self._create()
        except (OSError, sqlite3.OperationalError) as error:  # parent is a file, a read-only folder
            raise ResultsStoreError(self.path, f"cannot be created ({error})") from None

    # -- writing -------------------------------------------------------------------------------------

    def add(self, result: GenerationResult, tags: dict[str, Any] | None = None) -> int:
        """Store one run; returns its row id. One transaction: it is all there or not at all."""
        row = self._row(result, tags)
        with self._transaction() as connection:
            cursor = connection.execute(_insert(row), list(row.values()))
        return int(cursor.lastrowid)  # type: ignore[arg-type]

    def add_all(
        self,
        results: list[GenerationResult],
        tags: dict[str, Any] | None = None,
        *,
        run_tags: list[dict[str, Any]] | None = None,
    ) -> Path | None:
        """Store runs in one transaction and return None; or, when another process keeps the write
        lock past the busy timeout, keep them in a side file beside the store and return its path.
        `run_tags` (one dict per result) adds tags to single runs, e.g. {"phase": "cold"}.

        The side file is a CSV export that `import_()` reads, so finished work is never lost.
        """
        if run_tags is not None and len(run_tags) != len(results):
            raise InvalidSettingError("run_tags", len(run_tags), f"one dict per result ({len(results)})")
        each = run_tags or [{} for _ in results]
        rows = [self._row(result, {**(tags or {}), **extra}) for result, extra in zip(results, each, strict=True)]
        try:
            with self._transaction() as connection:
                for row in rows:
                    connection.execute(_insert(row), list(row.values()))
            return None
        except StoreBusyError:
            pass
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        side = self.path.with_name(f"{self.path.stem}.unsaved-{stamp}-{uuid.uuid4().hex[:8]}.csv")
        _write_csv(pd.DataFrame(rows, columns=[name for name in COLUMNS if name != "id"]), side)
        return side

    def import_(self, path: str | Path) -> int:
        """Add the rows of a `.csv` or `.parquet` export; runs already here are skipped. Returns rows added."""
        frame = _read_table(Path(path))
        missing = {"run_uuid", "timestamp"} - set(frame.columns)
        unknown = set(frame.columns) - set(COLUMNS)
        if missing or unknown:
            problem = f"missing columns {sorted(missing)}, unknown columns {sorted(unknown)}"
            raise InvalidSettingError("path", str(path), f"a workbench export ({problem})")
        names = [name for name in frame.columns if name != "id"]  # row ids are local to each store
        records = frame.to_dict("records")
        rows = [[_sql_value(record[name], COLUMNS[name]) for name in names] for record in records]
        with self._transaction() as connection:
            before = connection.total_changes
            connection.executemany(
                f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)}) "
                "ON CONFLICT(run_uuid) DO NOTHING",
                rows,
            )
            return connection.total_changes - before

    # -- reading -------------------------------------------------------------------------------------

    def to_dataframe(self, *, conditions: bool = False, **filters: Any) -> pd.DataFrame:
        """All runs, oldest first; filters: `model="x"`, `kind=["a", "b"]`, `tags={"who": "ana"}`.

        `conditions=True` adds what the machine was doing during each run, read from its telemetry:
        `busy` (other processes took CPU; None for runs recorded before this was measured),
        `other_core_share` and `torch_threads` (see `workbench.measure.conditions`).
        """
        where, parameters = _where(filters)
        with closing(self._connect()) as connection:
            frame = pd.read_sql_query(f"SELECT * FROM runs{where} ORDER BY id", connection, params=parameters)
        frame = frame.astype({name: _PANDAS_TYPES[kind] for name, kind in COLUMNS.items()})
        if conditions:
            measured = [Measurement.from_record(row).conditions for _, row in frame.iterrows()]
            frame["busy"] = pd.array([c.busy if c else None for c in measured], dtype="boolean")
            frame["other_core_share"] = [c.other_core_share if c else None for c in measured]
            frame["torch_threads"] = pd.array([c.torch_threads if c else None for c in measured], dtype="Int64")
        return frame

    def export(self, path: str | Path, *, overwrite: bool = False) -> int:
        """Write every run to `.csv` or `.parquet` (chosen by the suffix); returns the number of rows.
        An existing file is replaced only with `overwrite=True`."""
        path = Path(path)
        if path.suffix not in (".csv", ".parquet"):
            raise InvalidSettingError("path", str(path), "a file name ending in .csv or .parquet")
        if path.exists() and not overwrite:
            raise InvalidSettingError("path", str(path), "a file that does not exist yet (or pass overwrite=True)")
        frame = self.to_dataframe()
        if path.suffix == ".csv":
            _write_csv(frame, path)
        else:
            frame.to_parquet(path, index=False)
        return len(frame)

    def __len__(self) -> int:
        with closing(self._connect()) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r}, {len(self)} runs)"

    # -- the file ------------------------------------------------------------------------------------

    def _existing_kind(self) -> str:
        """ "ours", "new" (absent or an empty database), or raises: never writes to the file."""
        try:
            if not self.path.exists() or self.path.stat().st_size == 0:
                return "new"
            with self.path.open("rb") as file:
                header = file.read(len(SQLITE_HEADER))
        except OSError as error:
            raise ResultsStoreError(self.path, f"cannot be read ({error})") from error
        if header != SQLITE_HEADER:
            raise ResultsStoreError(self.path, "is not an SQLite database; refusing to touch it")
        try:
            read_only = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=self.busy_timeout_s)
            with closing(read_only) as ro:
                application_id = ro.execute("PRAGMA application_id").fetchone()[0]
                version = ro.execute("PRAGMA user_version").fetchone()[0]
                tables = [name for (name,) in ro.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                # A valid header can front damaged pages; find out now, not in the middle of a later read.
                health = ro.execute("PRAGMA quick_check").fetchone()[0]
            if health != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {health}")
        except sqlite3.DatabaseError as error:
            raise ResultsStoreError(self.path, f"is a damaged or unreadable SQLite file ({error})") from error
        if application_id == APPLICATION_ID:
            if version != SCHEMA_VERSION:
                problem = f"has store schema {version}, this workbench reads schema {SCHEMA_VERSION}"
                raise ResultsStoreError(self.path, f"{problem}; use a matching workbench version")
            return "ours"
        if application_id == 0 and version == 0 and not tables:
            return "new"  # an empty database, e.g. one another notebook is creating at this moment
        listing = ", ".join(tables) or "none"
        problem = f"is an SQLite database of something else (tables: {listing}); refusing to modify it"
        raise ResultsStoreError(self.path, problem)

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as connection:
            # WAL lets readers and one writer work at once; the setting is stored in the file.
            connection.execute("PRAGMA journal_mode = WAL")
        with self._transaction() as connection:
            # Checked again under the write lock: another process may have won the race to create it.
            if connection.execute("PRAGMA application_id").fetchone()[0] not in (0, APPLICATION_ID):
                raise ResultsStoreError(self.path, "became another program's database while being created")
            connection.execute(_CREATE_TABLE)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _connect(self) -> sqlite3.Connection:
        # A connection per operation: nothing stays open across notebook cells or a fork, and
        # `timeout` is SQLite's busy timeout. isolation_level=None: transactions are explicit below.
        return sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, where the busy timeout applies; a deferred
        # transaction that upgrades from reading to writing can fail at once with "database is locked".
        with closing(self._connect()) as connection:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise self._write_error(error) from None
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException as error:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if isinstance(error, sqlite3.OperationalError):
                    raise self._write_error(error) from None
                raise

    def _write_error(self, error: sqlite3.OperationalError) -> ResultsStoreError:
        if "locked" in str(error) or "busy" in str(error):
            return StoreBusyError(self.path, f"another process kept it locked for {self.busy_timeout_s:g} s ({error})")
        return ResultsStoreError(self.path, f"cannot be written ({error})")

    # -- rows ----------------------------------------------------------------------------------------

    @staticmethod
    def _row(result: GenerationResult, tags: dict[str, Any] | None) -> dict[str, Any]:
        data = result.to_dict()  # metrics included, non-finite numbers already None
        telemetry = data["telemetry"]
        row = {
            "run_uuid": str(uuid.uuid4()),
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            **{key: data[key] for key in ("model", "kind", "device", "dtype", "prompt", "text", "finish_reason")},
            "settings": _json(data["settings"]),
            "prompt_hash": hashlib.sha256(result.prompt.encode("utf-8")).hexdigest(),
            **{name: data[name] for name in result.metrics()},
            "metrics": _json({name: data[name] for name in result.metrics()}),
            **{name: telemetry.get(name) for name in _TELEMETRY_COLUMNS},
            "telemetry": _json(telemetry),
            "tags": _tags_json(tags),
            **environment(),
            "cuda_device": telemetry.get("device_name") or cuda_device_name(result.device),
            "packages": _json(package_versions()),
        }
        # A metric newer than this schema has no column yet; it is kept in the `metrics` JSON.
        return {name: value for name, value in row.items() if name in COLUMNS}


def _insert(row: dict[str, Any]) -> str:
    return f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})"


def _json(value: Any) -> str:
    # default=str: settings may hold objects (a dtype, a sampler config); their text is what we keep.
    return json.dumps(value, sort_keys=True, default=str)


def _tags_json(tags: dict[str, Any] | None) -> str:
    if tags is None:
        return "{}"
    if not isinstance(tags, dict) or not all(isinstance(key, str) and '"' not in key for key in tags):
        raise InvalidSettingError("tags", tags, "a dict with string keys without double quotes, e.g. {'who': 'ana'}")
    try:
        return json.dumps(tags, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidSettingError("tags", tags, f"JSON values (text, numbers, lists): {error}") from error


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    parameters: list[Any] = []
    for name, wanted in filters.items():
        if name == "tags":
            if not isinstance(wanted, dict) or not all(isinstance(key, str) and '"' not in key for key in wanted):
                # A quote would end SQLite's JSON path early and silently match nothing.
                raise InvalidSettingError("tags", wanted, "a dict of tag values to match, keys without double quotes")
            for key, value in wanted.items():
                clauses.append("json_extract(tags, ?) = ?")
                parameters += [f'$."{key}"', value]
        elif name not in COLUMNS:
            raise InvalidSettingError(name, wanted, "a filter on one of the store's columns: " + ", ".join(COLUMNS))
        elif wanted is None:
            clauses.append(f"{name} IS NULL")
        elif isinstance(wanted, (list, tuple, set)):
            clauses.append(f"{name} IN ({', '.join('?' for _ in wanted)})")
            parameters += list(wanted)
        else:
            clauses.append(f"{name} = ?")
            parameters.append(wanted)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), parameters


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # Every field quoted (pandas leaves a lone "\r" bare, which splits the row on reading), and text
    # that starts with a backslash gets one more, so the literal text "\N" never reads back as null.
    text = [name for name in frame.columns if COLUMNS.get(name) == "TEXT"]
    escaped = frame.astype(object).copy()
    for name in text:
        escaped[name] = [f"\\{v}" if isinstance(v, str) and v.startswith("\\") else v for v in escaped[name]]
    escaped.to_csv(path, index=False, na_rep=CSV_NULL, quoting=csv.QUOTE_ALL)


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        header = pd.read_csv(path, nrows=0).columns
        frame = pd.read_csv(
            path,
            dtype={name: _PANDAS_TYPES[COLUMNS[name]] for name in header if name in COLUMNS},
            keep_default_na=False,  # a prompt reading "NA" or "null" is text, not a missing value
            na_values=[CSV_NULL],
            float_precision="round_trip",
        )
        for name in (n for n in header if COLUMNS.get(n) == "TEXT"):
            frame[name] = [v[1:] if isinstance(v, str) and v.startswith("\\") else v for v in frame[name]]
        return frame
    raise InvalidSettingError("path", str(path), "a .csv or .parquet file written by ResultsStore.export")


def _sql_value(value: Any, kind: str) -> Any:
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    return {"INTEGER": int, "REAL": float, "TEXT": str}[kind](value)
