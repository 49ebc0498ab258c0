"""The analyst console in a real headless Chromium (Debian's package, driven by Playwright):
sign in, open a case from the list, take it, bust it, and the busts reach both firms over FIX.

Set CEGUARD_SCREENSHOT=docs/console-case.png to write the README's screenshot."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.live import busts_for, logged_on, send, sides, wait_for
from tests.review_live import TOKENS, start_review_server

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium's own connections are refused on a
# closed network and slow its start.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIRMA = "FIX.4.4:FIRMA->CEGUARD"
FIRMB = "FIX.4.4:FIRMB->CEGUARD"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    directory = tmp_path_factory.mktemp("console")
    server = start_review_server(directory)
    with logged_on(server, directory, versions=("FIX.4.4",)) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1180, "height": 1000})
        try:
            yield context
        finally:
            context.close()


def test_an_analyst_busts_a_case_from_the_console(desk, browser, tmp_path):
    server, engine, firm_peers = desk
    # Today after the close (17:00 or 18:00 in New York): the outside-hours band, whatever
    # the time the test runs.
    moment = datetime.now(timezone.utc).replace(hour=22, minute=0, second=0, microsecond=0)
    for i, price in enumerate(["60.10", "59.90", "60.30", "60.20", "60.25", "60.15"]):
        send(engine, "FIX.4.4", sides(f"WEB-N{i}", "FAT", price, order=f"WEB-N{i}"),
             when=moment)
    send(engine, "FIX.4.4", sides("WEB-1", "FAT", "67.00", order="WEB-O1", aggressor_side="1"),
         when=moment)
    case = wait_for(lambda: (x := server.case_of("P-WEB-1")) and len(x["exec_ids"]) == 2 and x,
                    what="the case")
    page = browser.new_page()

    page.goto(server.api + "/console")
    assert page.url.endswith("/console/login")
    page.fill("#token", "not-a-token-of-anyone")
    page.click("#sign-in")
    assert "not an analyst" in page.content()
    page.fill("#token", TOKENS["FIRMA"])  # a firm's token does not open the console
    page.click("#sign-in")
    assert "not an analyst" in page.content()
    page.fill("#token", TOKENS["alice"])
    page.click("#sign-in")
    row = page.locator(f"tr[data-case='{case['id']}']")
    assert "FAT" in row.inner_text() and "open" in row.inner_text()

    row.locator("a").click()
    page.click("#take")
    assert page.inner_text("#state") == "under_review"
    reference = page.inner_text("#reference")
    assert "60.15 (last_sale)" in reference and "6% (rule OUT-T3)" in reference
    assert "56.541 .. 63.759" in reference  # 60.15 x (1 -+ 6%)
    executions = page.inner_text("#executions")
    assert "A-WEB-1" in executions and "P-WEB-1" in executions and "(aggressor)" in executions
    assert page.locator("svg.chart circle").count() == 2  # the case's two executions
    page.fill("#reason", "67.00 is 11.4% above the last sale 60.15; no news")
    shot = Path(os.environ.get("CEGUARD_SCREENSHOT") or tmp_path / "case.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page.click("#bust")
    assert page.inner_text("#state") == "notified"
    assert "determined_bust" in page.inner_text("#steps")
    wait_for(lambda: [b[19] for b in busts_for(firm_peers.peer, FIRMB, "FAT")
                      if "WEB" in b[19]] == ["A-WEB-1"]
             and [b[19] for b in busts_for(firm_peers.peer, FIRMA, "FAT")
                  if "WEB" in b[19]] == ["P-WEB-1"], what="the busts at both firms")
    page.goto(server.api + f"/console/cases/{case['id']}")
    assert page.locator("#notices tr").count() == 3  # header, FIRMA, FIRMB
