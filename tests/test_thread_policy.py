"""The torch thread policy `load` applies: argument, then $WORKBENCH_THREADS, then all cores but one."""

from __future__ import annotations

import pytest
import torch

import workbench
from workbench.errors import InvalidSettingError
from workbench.loading.load import THREADS_ENV, default_threads, thread_count


def test_the_order_argument_environment_default(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert thread_count(None) == default_threads() >= 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert thread_count(None) == 3 and thread_count(2) == 2
    monkeypatch.delenv(THREADS_ENV)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert thread_count(None) is None  # torch already followed OMP_NUM_THREADS: left alone


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_named(bad):
    with pytest.raises(InvalidSettingError, match="threads="):
        thread_count(bad)


def test_bad_environment_value_is_named(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(InvalidSettingError, match="WORKBENCH_THREADS='many'"):
        thread_count(None)


def test_load_sets_it_and_runs_record_it(ar_folder):
    before = torch.get_num_threads()
    try:
        handle = workbench.load(str(ar_folder), device="cpu", threads=1)
        assert torch.get_num_threads() == 1
        from workbench.measure.measurement import Measurement
        from workbench.measure.telemetry.energy import measured_generate

        result = measured_generate(handle, "once upon a time", max_new_tokens=2, seed=0, warn=False)
        conditions = Measurement.from_result(result).conditions
        assert conditions is not None and conditions.torch_threads == 1
    finally:
        torch.set_num_threads(before)
