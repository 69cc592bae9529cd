"""A real browser on a real run: Debian's chromium, headless, loads the report and the dashboard.

The dashboard is served by a real `airflow api-server` (the plugin mounted under /benchmarks,
Airflow's simple auth manager in all-admins mode so a headless browser needs no login), over
the results of a real `target=local` run. The test asserts that the plots rendered: the page's
DOM after JavaScript holds the SVG plots with drawn paths, and the screenshot is not blank.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.ui.browser import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.usefixtures("airflow_db")]


@pytest.fixture(scope="module")
def api_server(ui_api_server):
    return ui_api_server


def browse(url: str, screenshot: Path) -> str:
    """The DOM after the page's scripts ran, and a full-page screenshot."""
    assert CHROMIUM, "the browser test needs Debian's chromium: `make deps-test` installs it"
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--hide-scrollbars", "--virtual-time-budget=5000", f"--user-data-dir={screenshot.parent / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    subprocess.run([*common, f"--screenshot={screenshot}", "--window-size=1280,2400", url], capture_output=True,
                   timeout=120, check=True)
    return dom


def assert_plots_rendered(dom: str, screenshot: Path, *, plots: int) -> None:
    from matplotlib import image

    svgs = re.findall(r"<svg.*?</svg>", dom, flags=re.S)
    assert len(svgs) >= plots, f"{len(svgs)} plots in the DOM"
    assert all(len(re.findall(r"<path", svg)) > 20 for svg in svgs)  # axes, bars, glyphs: drawn, not empty
    pixels = image.imread(screenshot)
    assert pixels.shape[0] >= 2000 and pixels.std() > 0.05, "the screenshot is blank"


def test_the_report_renders_in_a_browser(local_run, tmp_path):
    _, results = local_run

    dom = browse((results / "reports" / "latest" / "index.html").as_uri(), tmp_path / "report.png")

    assert_plots_rendered(dom, tmp_path / "report.png", plots=3)  # triad, HPL, price-performance
    assert 'class="sortable"' in dom


def test_the_dashboard_renders_inside_the_airflow_api_server(api_server, tmp_path):
    dom = browse(f"{api_server}/benchmarks/", tmp_path / "dashboard.png")

    assert_plots_rendered(dom, tmp_path / "dashboard.png", plots=3)
    with urllib.request.urlopen(f"{api_server}/benchmarks/api/summary?benchmark=hpl") as response:  # noqa: S310
        rows = json.loads(response.read())
    assert [row["instance_type"] for row in rows] == ["local"] and rows[0]["n"] == 2


def test_the_plugin_is_registered_in_the_ui_navigation(api_server):
    with urllib.request.urlopen(f"{api_server}/api/v2/plugins") as response:  # noqa: S310 - loopback
        plugins = json.loads(response.read())["plugins"]

    (ours,) = [p for p in plugins if p["name"] == "instance_benchmarks"]
    assert [app["url_prefix"] for app in ours["fastapi_apps"]] == ["/benchmarks"]
    assert [(v["name"], v["destination"]) for v in ours["external_views"]] == [("Benchmarks", "nav"),
                                                                               ("Weekly plan", "nav")]


def test_the_week_s_plan_page_in_a_browser(api_server, local_run, moto_env, monkeypatch):
    """Issue 30 item 5: the week's plan as a person reads it, served by the real api-server: the budget, the chosen
    types with their reasons (sortable), the next not chosen and why, and the family x size freshness map."""
    import datetime

    from instance_benchmarks import params, prices, weekly_refresh
    from instance_benchmarks.results import ResultStore
    from tests.conftest import SCREENSHOTS
    from tests.fakes.aws import AwsGaps
    from tests.fakes.pricing import FakePriceList
    from tests.ui.browser import chromium_page

    _, results = local_run
    gaps = AwsGaps().install(monkeypatch)
    gaps.add_price_list(FakePriceList({"us-east-1": prices.recorded_on_demand("us-east-1")}))
    week = datetime.date(2026, 11, 29)
    plan = weekly_refresh.plan_week(store=ResultStore(results.as_uri()), regions=["us-east-1"],
                                    requested=["m7i", "c7g"], aws_conn_id=None, week=week,
                                    settings={**params.weekly_settings("aws"), "budget_usd": 3.0},
                                    markets=["on-demand"], hosts=[1, 2])

    with chromium_page(1300, 1000) as page:
        page.goto(f"{api_server}/benchmarks/plans")
        assert page.url.endswith(f"/benchmarks/plans/{week}")  # the latest week, named in its address
        assert page.locator("h1").inner_text() == f"The weekly plan: the week of {week}"
        assert "Planned $" in page.locator("p.budget").inner_text()
        chosen = page.locator("table.sortable").first
        assert chosen.locator("tr").count() == len(plan["chosen"]) + 2  # the header, the filters, one per type
        chosen.locator("th", has_text="$").first.click()  # sort by dollars (the first click: most first)
        dollars = [float(v) for v in chosen.locator("tr:not(.filters) td:nth-child(4)").evaluate_all(
            "cells => cells.map(c => c.dataset.v)")]
        assert dollars == sorted(dollars, reverse=True)
        cells = page.locator("table.freshness-map td.cell")
        titles = cells.evaluate_all("cells => cells.map(c => c.title)")
        assert len(titles) == len(plan["signals"]) and all("never measured" in t for t in titles)
        marked = cells.evaluate_all("cells => cells.filter(c => c.textContent === '●').length")
        assert marked == len(plan["chosen"])
        page.screenshot(path=str(SCREENSHOTS / "weekly-plan.png"), full_page=True)
