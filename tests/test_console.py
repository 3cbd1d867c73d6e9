"""The web console in a real browser: Debian's Chromium, driven by Playwright, against
``idsync serve`` over the state a real run on the simulators left.

A threshold holds two disables; an approver signs in, reviews the held item, approves it with a
comment, and finds the run that carried it out and her name in the person's audit trail. A
viewer sees no button and is refused when posting anyway; a form without the CSRF token is
refused; a wrong password is refused, and after five the right one is refused too.

With ``IDSYNC_SCREENSHOTS=1`` (``make screenshots``) the same tests write the screenshots of
``docs/operations/console.md``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import debian
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from support import AFAS_TOKEN, HELLOID_SECRET, IDSYNC, ROOT, Org

JOINED, MOVED = "2026-01-20", "2026-02-02"
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT.parent / "docs" / "operations" / "console"
PASSWORDS = {"alice": "correct horse battery", "victor": "viewer password 1"}
_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    debian.ensure(["chromium"], present=lambda: Path(CHROMIUM).exists())
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=_FLAGS)
    yield launched
    launched.close()


@dataclass
class Console:
    """A running ``idsync serve`` over an organisation with one held item."""

    url: str
    org: Org
    held: int

    def page(self, browser: Browser, **options: object) -> Page:
        context = browser.new_context(base_url=self.url, **options)  # type: ignore[arg-type]
        return context.new_page()


def _serve(org: Org) -> Iterator[str]:
    process = subprocess.Popen(
        [str(IDSYNC), "serve", str(org.pipeline), "--port", "0", "--as-of", MOVED, "--time-travel"],
        env=org.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        found = re.search(r"idsync console on (http://\S+)", line)
        if found:
            break
    else:
        process.wait()
        raise AssertionError("idsync serve did not start:\n" + "".join(lines))
    drain = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    drain.start()  # the server's log, shown when a test fails (and never blocking it)
    try:
        yield found.group(1).rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=20)
        drain.join(timeout=5)
        print("".join(lines))


@pytest.fixture
def console(org: Org) -> Iterator[Console]:
    """Two disables held by a threshold (Piet Jansen and Sara Kok leave), two users, and
    the console serving it all."""
    org.write_pipeline("    thresholds: {disable: 0}")
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    org.idsync("run", p, "--as-of", MOVED, check=3)
    [item] = org.json("held", p)["items"]
    assert (item["kind"], item["count"]) == ("disable", 2)
    for name, role in (("alice", "approver"), ("victor", "viewer")):
        added = subprocess.run(
            [str(IDSYNC), "users", "add", p, name, "--role", role, "--password-stdin"],
            input=PASSWORDS[name] + "\n",
            env=org.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert added.returncode == 0, added.stderr
    for url in _serve(org):
        yield Console(url=url, org=org, held=item["id"])


def _shot(page: Page, name: str) -> None:
    """Write a docs screenshot when asked to (never in a plain test run)."""
    if os.environ.get("IDSYNC_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _sign_in(page: Page, name: str, password: str | None = None) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password or PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()


def _no_secrets(page: Page) -> None:
    html = page.content()
    for secret in (HELLOID_SECRET, AFAS_TOKEN):
        assert secret not in html


def test_an_approver_reviews_and_approves_held_work_and_is_in_the_audit_trail(
    console: Console, browser: Browser
) -> None:
    page = console.page(browser, viewport={"width": 1280, "height": 900})
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    _shot(page, "login")
    _sign_in(page, "alice")

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    held_link = page.get_by_role("link", name=f"#{console.held} helloid disable")
    expect(held_link).to_be_visible()
    expect(page.locator("svg.chart rect").first).to_be_visible()
    _shot(page, "overview")
    _no_secrets(page)

    page.get_by_role("link", name="Plan", exact=True).click()
    page.get_by_role("button", name="Plan now").click()
    expect(page.get_by_role("heading", name="By transition and target")).to_be_visible(
        timeout=60_000
    )
    leaving = page.locator("article.person-plan", has_text="Piet Jansen")
    expect(leaving).to_contain_text("disable")
    expect(leaving.locator(".status.s-held")).to_be_visible()  # planned, and held
    expect(leaving).to_contain_text("last contract ended 2026-01-31")
    _shot(page, "plan")
    page.get_by_role("link", name="Overview", exact=True).click()

    held_link.click()
    expect(
        page.get_by_role("heading", name=f"Held #{console.held}: helloid disable")
    ).to_be_visible()
    release = page.locator("table").filter(has_text="disable")
    expect(release).to_contain_text("Piet Jansen")
    expect(release).to_contain_text("last contract ended 2026-01-31")
    expect(release).to_contain_text("1009")
    _shot(page, "held")
    page.get_by_label("Comment").first.fill("HR confirmed both leave on 31 January")
    page.get_by_role("button", name="Approve and run").click()

    done = page.get_by_role("status").filter(has_text="approved:")
    expect(done).to_be_visible(timeout=60_000)
    carried = page.locator("a.carried")
    expect(carried).to_be_visible()
    run_id = int(carried.inner_text().removeprefix("run "))
    expect(page.locator(".decided-by")).to_have_text("alice")
    assert console.org.user("p.jansen@example.org")["isEnabled"] is False
    assert console.org.user("s.kok@example.org")["isEnabled"] is False

    carried.click()
    expect(page.get_by_role("heading", name=re.compile(f"Run {run_id}"))).to_be_visible()
    expect(page.locator("p.flash.ok")).to_contain_text(
        f"This run carried out held item #{console.held} (disable in helloid), approved by alice"
    )
    actions = page.locator("table.audit")
    expect(actions).to_contain_text("disable")
    expect(actions).to_contain_text("done")
    _shot(page, "run")

    page.get_by_role("link", name="Persons").click()
    page.get_by_label("Find by id, name or user name").fill("jansen")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="1003").click()
    expect(page.get_by_role("heading", name=re.compile("Piet Jansen"))).to_be_visible()
    trail = page.locator("table.audit")
    approval = trail.locator("tr.row-approved")
    expect(approval).to_contain_text("alice")
    expect(approval).to_contain_text("HR confirmed both leave on 31 January")
    expect(approval.locator("a").first).to_have_text(str(run_id))
    disabled = trail.locator("tr.row-done", has_text="disable")
    expect(disabled.locator("a").first).to_have_text(str(run_id))
    _shot(page, "person")
    _no_secrets(page)

    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_label("by").fill("alice")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.audit tbody tr")).to_have_count(3)  # the item, Piet, Sara
    _shot(page, "audit")
    exported = page.request.get("/p/e2e/audit.csv?actor=alice&person=1003")
    assert exported.status == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text())))
    assert [(r["person"], r["kind"], r["status"], r["actor"]) for r in rows] == [
        ("1003", "approve", "approved", "alice")
    ]

    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.locator("table tbody tr").first).to_contain_text(str(run_id))
    _shot(page, "runs")

    page.get_by_role("link", name="Reconcile", exact=True).click()
    page.get_by_role("button", name="Reconcile now").click()
    expect(page.get_by_role("heading", name="helloid")).to_be_visible(timeout=60_000)
    expect(page.locator("main")).to_contain_text("linked")
    _shot(page, "reconcile")
    _no_secrets(page)

    phone = console.page(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
    _sign_in(phone, "alice")
    phone.goto(f"/p/e2e/held/{console.held}")
    expect(phone.get_by_role("heading", name=re.compile(f"Held #{console.held}"))).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    _shot(phone, "phone")


def test_a_viewer_sees_no_approve_button_and_is_refused_when_posting(
    console: Console, browser: Browser
) -> None:
    page = console.page(browser)
    _sign_in(page, "victor")
    page.goto(f"/p/e2e/held/{console.held}")
    expect(page.get_by_text("Approving and rejecting need the approver role")).to_be_visible()
    expect(page.get_by_role("button", name="Approve and run")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)

    token = _csrf(page)
    for decision in ("approve", "reject"):
        answer = page.request.post(
            f"/p/e2e/held/{console.held}/{decision}", form={"csrf": token, "comment": "mine"}
        )
        assert answer.status == 403
        assert "approver role" in answer.text()
    [item] = console.org.json("held", str(console.org.pipeline))["items"]
    assert item["status"] == "held"
    assert console.org.user("p.jansen@example.org")["isEnabled"] is True


def _csrf(page: Page) -> str:
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    assert token
    return token


def test_a_form_without_the_csrf_token_is_refused(console: Console, browser: Browser) -> None:
    page = console.page(browser)
    _sign_in(page, "alice")
    page.goto(f"/p/e2e/held/{console.held}")
    for form in ({"comment": "no token"}, {"comment": "a wrong one", "csrf": "forged"}):
        answer = page.request.post(f"/p/e2e/held/{console.held}/approve", form=form)
        assert answer.status == 403
        assert "CSRF" in answer.text()
    answer = page.request.post("/logout", form={})
    assert answer.status == 403
    [item] = console.org.json("held", str(console.org.pipeline))["items"]
    assert item["status"] == "held"
    assert console.org.user("p.jansen@example.org")["isEnabled"] is True
    page.reload()
    expect(page.get_by_role("button", name="Approve and run")).to_be_visible()  # still signed in


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(
    console: Console, browser: Browser
) -> None:
    page = console.page(browser)

    def sign_in(password: str) -> int:
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            _sign_in(page, "alice", password)
        return answer.value.status

    for _ in range(5):
        assert sign_in("not her password") == 401
        expect(page.get_by_role("alert")).to_have_text("wrong user name or password")
    assert sign_in(PASSWORDS["alice"]) == 429
    expect(page.get_by_role("alert")).to_contain_text("too many failed sign-ins")
    answer = page.request.get("/")
    assert answer.url.endswith("/login?next=%2F")
    other = console.page(browser)
    _sign_in(other, "victor")  # another user is not locked out
    expect(other.get_by_role("heading", name="Overview")).to_be_visible()
