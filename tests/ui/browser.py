"""The Airflow UI driven as a user drives it: Debian's Chromium through Playwright.

Used by the tests (against an `airflow api-server` they start) and as a check anyone can run
against `make up` started with every user admin:

    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True make up      # one terminal
    make check-forms                                                # another

which opens each DAG's trigger form, submits it with its defaults, checks over the REST API
that the run was created, and prints `trigger_with_defaults: <k> of <n>`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DAG_IDS = ("instance_benchmarks", "catalog_refresh", "janitor", "results_analysis", "weekly_refresh", "contributions")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium keeps dialling Google's hosts on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A fresh headless Chromium page (Debian's chromium: Playwright's own browser download is not reachable)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "the browser tests need Debian's chromium: `make deps-test` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def api(base: str, path: str, *, method: str = "GET") -> Any:
    """Airflow's REST API (the simple auth manager in all-admins mode needs no token)."""
    request = urllib.request.Request(f"{base}{path}", method=method)  # noqa: S310 - loopback or the user's own URL
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body = response.read()
    return json.loads(body) if body else None


def run_of(base: str, dag_id: str, run_id: str) -> dict[str, Any]:
    return api(base, f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")


def run_count(base: str, dag_id: str) -> int:
    return api(base, f"/api/v2/dags/{dag_id}/dagRuns?limit=1")["total_entries"]


@dataclass
class Submission:
    """What one press of the form's Trigger button did."""

    dag_id: str
    enabled: bool
    run_id: str | None = None
    invalid_fields: list[str] = field(default_factory=list)
    message: str = ""


def open_form(page: Any, base: str, dag_id: str) -> Any:
    """The DAG's page, its Trigger button, and the trigger dialog it opens."""
    page.goto(f"{base}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Trigger", exact=True).wait_for()
    return dialog


def invalid_fields(page: Any) -> list[str]:
    """The labels of the fields the form marks invalid (their first line)."""
    return page.eval_on_selector_all("[data-invalid]", "els => els.map(e => e.innerText.split('\\n')[0])")


def choose(page: Any, param: str, option: str) -> None:
    """Pick an option of an enum param's select."""
    page.locator(f"#element_{param}").click()
    page.get_by_role("option", name=option, exact=True).click()


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    """The simple auth manager's login page, as a user fills it."""
    page.goto(f"{base}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)


def fill(page: Any, param: str, value: Any) -> None:
    """Type into a param's field: a text field, or a number field's input (then leave it, as a user does)."""
    field = page.locator(f"#element_{param}, [id='number-input:element_{param}'] input").first
    field.fill(str(value))
    field.press("Tab")


def submit(page: Any, dialog: Any, dag_id: str) -> Submission:
    """Press Trigger; a created run is read from the run page the UI opens, a refusal from the dialog."""
    button = dialog.get_by_role("button", name="Trigger", exact=True)
    found = Submission(dag_id=dag_id, enabled=button.is_enabled(), invalid_fields=invalid_fields(page))
    if not found.enabled:
        return found
    button.click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if f"/dags/{dag_id}/runs/" in page.url:
            found.run_id = urllib.parse.unquote(page.url.split("/runs/", 1)[1].split("?")[0].split("/")[0])
            return found
        text = "\n".join(dialog.all_inner_texts())  # does not wait: the dialog may be closing
        if "Invalid input" in text or "Bad Request" in text:
            found.message = text
            return found
        time.sleep(0.2)
    found.message = "the form neither opened a run nor showed an error within 20 s"
    return found


def trigger_with_defaults(page: Any, base: str, dag_id: str, screenshot: Path | None = None) -> Submission:
    dialog = open_form(page, base, dag_id)
    if screenshot:
        page.screenshot(path=str(screenshot), full_page=True)
    return submit(page, dialog, dag_id)


@contextlib.contextmanager
def api_server(env: dict[str, str], log: Path, *, reserialize: bool = True) -> Iterator[str]:
    """`airflow api-server` on loopback with every user admin (no login in a headless browser); yields its URL.

    The DAGs are serialized into the metadata database first (what a dag-processor would do), so
    the UI knows all six. Stopped by its process group, whatever happens.
    """
    from tests.deployment.stack import free_port, stop_group

    port = free_port()
    env = {**os.environ, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
           "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}", **env}
    if reserialize:
        subprocess.run([sys.executable, "-m", "airflow", "dags", "reserialize"], env=env, check=True,
                       capture_output=True, timeout=300)
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1",
                                    "--port", str(port), "--workers", "1"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                api(base, "/api/v2/monitor/health")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"api-server did not come up:\n{log.read_text()[-3000:]}") from None
                time.sleep(1)
        yield base
    finally:
        # nothing of the server is needed once its tests end: a short grace, then SIGKILL (the suite's 36 s last
        # teardown was the engine's, not this server's: engine._pid_alive)
        stop_group(process, 5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://localhost:8080", help="the Airflow UI (default: make up's)")
    parser.add_argument("--screenshots", type=Path, default=REPO / ".build" / "check-forms",
                        help="where each form's screenshot goes")
    args = parser.parse_args(argv)
    args.screenshots.mkdir(parents=True, exist_ok=True)
    ok = 0
    with chromium_page() as page:
        for dag_id in DAG_IDS:
            before = run_count(args.url, dag_id)
            done = trigger_with_defaults(page, args.url, dag_id, args.screenshots / f"{dag_id}-form.png")
            created = done.run_id is not None and run_count(args.url, dag_id) == before + 1
            ok += created
            print(f"{dag_id}: " + (f"run {done.run_id} created" if created else
                                   f"NOT triggered (button enabled: {done.enabled}, invalid fields: "
                                   f"{done.invalid_fields}) {done.message[:300]}"))
    print(f"trigger_with_defaults: {ok} of {len(DAG_IDS)}")
    return 0 if ok == len(DAG_IDS) else 1


if __name__ == "__main__":
    sys.exit(main())
