"""The cost-of-ownership report, rendered from a real results store and opened in a real Chromium.

The store is filled by `workbench compare` running the embedded tiny models on this machine (twice, so
the warm medians have a spread). The browser test opens the report with networking off, checks that
every figure loaded, prints it to PDF and holds each priced figure to `workbench breakeven --json`
with the same inputs. Needs Debian's `/usr/bin/chromium` (skipped without it, as in test_browser.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.cost import units
from workbench.cost.ownership_report import report
from workbench.errors import InvalidSettingError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
# The customer's inputs: a CPU box has no energy meter and no profile, so price and power are typed.
INPUTS = {"price_usd": 1200.0, "power_w": 30.0, "idle_power_w": 10.0, "tariff_name": "san-diego",
          "monthly_tokens": 3e6, "lifetime_years": 5.0}  # fmt: skip
FLAGS = ["--price-usd", "1200", "--power-w", "30", "--idle-power-w", "10", "--tariff", "san-diego",
         "--monthly-tokens", "3e6", "--lifetime-years", "5"]  # fmt: skip
PDF_PAGES = 5  # the summary, AR vs diffusion and prices, two charts, sensitivity, assumptions


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A results store with two measured rounds of AR and diffusion on the embedded models."""
    path = tmp_path_factory.mktemp("store") / "results.sqlite"
    for seed in ("0", "1"):
        code, _, err = cli("compare", "Once upon a time", "--max-new-tokens", "8", "--seed", seed, "--store", str(path))
        assert code == 0, err
    return path


def breakeven_json(store: Path, kind: str) -> dict:
    code, out, err = cli("breakeven", "--store", str(store), "--run-kind", kind, *FLAGS, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.mark.browser
def test_report_opens_offline_prints_and_agrees_with_breakeven(store, tmp_path):
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    path = report(tmp_path / "report.html", store=store, **INPUTS)
    html = path.read_text()

    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri(), wait_until="load", timeout=30_000)
            widths = page.evaluate("[...document.images].map(image => image.complete ? image.naturalWidth : 0)")
            figures = page.evaluate(
                """[...document.querySelectorAll('tr[data-kind] .figure')].map(cell => ({
                    kind: cell.closest('tr').dataset.kind, key: cell.dataset.key,
                    value: cell.dataset.value, text: cell.textContent.trim()}))"""
            )
            command = page.inner_text("#command")
            pdf = page.pdf(format="A4", print_background=True)
        finally:
            browser.close()

    assert len(widths) == 3 and all(width > 0 for width in widths), widths  # every chart decoded
    assert all(url.startswith(("file:", "data:")) for url in requests), requests  # nothing from the network
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == PDF_PAGES
    assert command.startswith("workbench report --out ") and "--price-usd 1200" in command

    kinds = {figure["kind"] for figure in figures}
    assert kinds == {"autoregressive", "diffusion"}
    for kind in kinds:
        expected = breakeven_json(store, kind)
        comparison, local = expected["comparison"], expected["local"]
        for figure in (f for f in figures if f["kind"] == kind):
            raw = local[figure["key"]] if figure["key"] == "tokens_per_s" else comparison[figure["key"]]
            if raw is None:  # never: no number, and the page says so
                assert figure["value"] == "" and figure["text"] == "never"
                continue
            assert float(figure["value"]) == raw  # the very same float
            shown = {"tokens_per_s": f"{units.plain(raw)} tok/s", "payback_months": units.months(raw)}
            tokens = units.tokens(raw, "month")
            assert figure["text"] == shown.get(
                figure["key"], tokens if "tokens_per_month" in figure["key"] else units.usd(raw)
            )
        assert expected["run"]["kind"] == kind and expected["run"]["run_uuid"][:8] in html  # the same run named


def test_report_numbers_need_no_browser_to_match(store, tmp_path):
    html = report(tmp_path / "r.html", store=store, **INPUTS).read_text()
    expected = breakeven_json(store, "diffusion")["comparison"]
    value = repr(float(expected["local_usd_per_m_tokens_at_capacity"]))
    assert f'data-value="{value}"' in html and units.usd(expected["local_usd_per_m_tokens_at_capacity"]) in html
    for label in ("measured", "given", "projected"):
        assert f'class="basis {label}"' in html
    assert "e+0" not in re.sub(r'(src|data-value)="[^"]*"', "", html)  # no scientific notation on the page


def test_a_failed_report_leaves_the_old_one_and_no_temporary_file(store, tmp_path):
    target = report(tmp_path / "report.html", store=store, **INPUTS)
    before = target.read_text()
    damaged = tmp_path / "damaged.html.j2"
    damaged.write_text("{% for row in measured %} never closed")
    with pytest.raises(InvalidSettingError, match="template=.*a readable Jinja2 template"):
        report(target, store=store, template=damaged, **INPUTS)
    assert target.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "damaged.html.j2",
        "report.html",
    ]


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--out", "/nonexistent-folder/r.html"], "--out='/nonexistent-folder/r.html' is not allowed"),
        (["--out", "{tmp}/r.html", "--hardware", "rtx-5090"], "--hardware='rtx-5090' is not allowed: a store holding"),
        (["--out", "{tmp}/r.txt"], "a file name ending in .html"),
        (["--out", "{tmp}/r.html", "--store", "{tmp}/none.sqlite"], "--store="),
    ],
)
def test_report_bad_input_is_one_line(store, tmp_path, argv, says):
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    if "--store" not in argv:
        argv += ["--store", str(store)]
    code, _, err = cli("report", *argv, "--price-usd", "1200", "--power-w", "30")
    assert code == 2 and err.count("\n") == 1 and says in err, err
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_report_command_writes_the_file_it_names(store, tmp_path):
    code, out, err = cli("report", "--out", str(tmp_path / "r.html"), "--store", str(store), *FLAGS)
    assert code == 0 and f"report written to {tmp_path / 'r.html'}" in out, err
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
