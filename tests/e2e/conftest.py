"""A live Keel server in a thread and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def live_server(app, db):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture()
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server
    yield page
    context.close()


def sign_in(page, username: str, password: str = "correct-horse-9") -> None:
    page.goto(page.base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.press("#password", "Enter")
    page.wait_for_url(page.base_url + "/")


def scan(page, value: str, step: str | None = None) -> None:
    """A keyboard-wedge scanner: types into the focused scan box and presses Enter (no mouse).

    It waits until the screen is idle (no htmx request or swap in flight), as a person
    waits for the screen to answer before the next scan.
    """
    expect(page.locator(".htmx-request, .htmx-settling, .htmx-swapping")).to_have_count(0)
    box = page.locator(f"input.scan-input[data-step={step}]" if step else "input.scan-input[data-autofocus]")
    expect(box).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def pick_and_pack(page, shipment_number: str, tasks, *, after_first_item=None) -> None:
    """Picks the open batch's (bin, item, qty) tasks by scanning, then packs the shipment unit by unit and labels it.

    `after_first_item` runs once the first task's item is scanned, before its quantity is confirmed.
    """
    for index, (bin_code, item, qty) in enumerate(tasks):
        expect(page.locator("[data-bin]")).to_have_text(bin_code)
        scan(page, bin_code, "bin")
        scan(page, item, "item")
        if index == 0 and after_first_item:
            after_first_item()
        expect(page.locator("[data-step=qty]")).to_be_focused()
        page.keyboard.press("Enter")  # the default is the line's quantity
        expect(page.locator("[data-outcome=ok]")).to_contain_text(f"Picked {qty}")
    expect(page.locator("text=Batch done")).to_be_visible()
    page.click("text=Go to packing")
    scan(page, shipment_number)
    page.wait_for_url("**/floor/pack/*")
    for _bin, item, qty in tasks:
        for _ in range(qty):
            still_to_pack = page.locator("#bench label.prompt").inner_text()
            scan(page, item, "pack")
            expect(page.locator("#bench label.prompt", has_text=still_to_pack)).to_have_count(0)
    page.click("text=Close and label")
    expect(page.locator("[data-outcome=ok]")).to_contain_text("Packed and labelled")
