"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) against a real
``polku serve`` loaded with ``polku demo``: sign in, every page, the numbers on the page equal the
analytics API's, sorting, a CSV download, the language switch, a new statement changing the open
page without a reload, sign out; at 1280 and 390 px wide. Screenshots go to a temporary folder.

Chromium comes from Debian (``deploy/services/up.sh`` installs it); Playwright never downloads a
browser here.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import uuid
from datetime import datetime, timezone

import pytest
import requests

from tests.fixtures.server import make_lrs

CHROMIUM = os.environ.get("POLKU_TEST_CHROMIUM", "/usr/bin/chromium")
playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings Playwright")

pytestmark = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason=f"{CHROMIUM} is missing: deploy/services/up.sh (make services) installs Debian's chromium"
)
WAIT_MS = 15_000  # how long a page may take to show a change (generous: a busy test machine)
V2 = {"X-Experience-API-Version": "2.0.0"}


class Site:
    """The server under test, its API (Basic auth) and the folder for screenshots."""

    def __init__(self, lrs, shots) -> None:
        self.lrs = lrs
        self.base = f"http://127.0.0.1:{lrs.port}"
        self.shots = shots
        self.http = requests.Session()
        self.http.auth = lrs.auth

    def api(self, path: str, **params):
        response = self.http.get(self.base + "/api/v1" + path, params=params)
        assert response.status_code == 200, response.text
        return response


@pytest.fixture(scope="module")
def site(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard-lrs")
    lrs = make_lrs(tmp, "embedded", request)
    base = f"http://127.0.0.1:{lrs.port}"
    lrs.cli("demo", "--url", base, "--key", lrs.key, "--secret", lrs.secret, "--members", "6")
    shots = tmp_path_factory.mktemp("screenshots")
    yield Site(lrs, shots)
    lrs.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


def sign_in(page, site, key: str | None = None, secret: str | None = None) -> None:
    page.goto(site.base + "/")
    page.fill("#key", key or site.lrs.key)
    page.fill("#secret", secret or site.lrs.secret)
    page.click("#sign-in")


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", accept_downloads=True)
    tab = context.new_page()
    sign_in(tab, site)
    yield tab
    context.close()


def rows(page, table: str) -> list:
    return page.locator(f"#{table} tbody tr").all()


def field(row, name: str) -> str:
    return row.locator(f'[data-field="{name}"]').first.inner_text().strip()


def percent(ratio) -> str:
    """A ratio as people write it: a whole percentage, halves rounded up."""
    return "–" if ratio is None else f"{math.floor(ratio * 100 + 0.5)}%"


# ---- signing in --------------------------------------------------------------------------------

def test_a_wrong_secret_keeps_the_sign_in_page_without_a_browser_password_box_and_the_right_one_opens_the_cohorts(browser, site):
    context = browser.new_context()
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda d: dialogs.append(d))
    response = page.goto(site.base + "/cohorts")
    assert page.url.startswith(site.base + "/sign-in"), "a reader who is not signed in is sent to sign in"
    assert "www-authenticate" not in {k.lower() for k in response.headers}
    sign_in(page, site, secret="not-the-secret")
    assert page.locator("#problem").inner_text() == "Unknown key or wrong secret."
    sign_in(page, site, key="no-such-key", secret="not-the-secret")
    assert page.locator("#problem").inner_text() == "Unknown key or wrong secret."
    sign_in(page, site)
    page.wait_for_selector("#cohorts")
    assert dialogs == []
    cookie = next(c for c in context.cookies() if c["name"] == "polku_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0
    context.close()


# ---- the numbers equal the API's ---------------------------------------------------------------

def test_the_cohorts_list_shows_members_on_track_overdue_and_last_activity_as_the_progress_api_gives_them(page, site):
    page.goto(site.base + "/cohorts")
    page.screenshot(path=str(site.shots / "cohorts-1280.png"), full_page=True)
    shown = {row.get_attribute("data-cohort"): row for row in rows(page, "cohorts")}
    assert set(shown) == {"north", "south", "east"}
    for key, row in shown.items():
        members = site.api(f"/cohorts/{key}/progress").json()["members"]
        assert field(row, "members") == str(len(members))
        assert field(row, "on_track") == percent(sum(1 for m in members if not m["overdue"]) / len(members))
        assert field(row, "overdue") == str(sum(len(m["overdue"]) for m in members))


def test_the_progress_matrix_equals_the_api_and_sorts_by_progress(page, site):
    page.goto(site.base + "/cohorts")
    page.click("text=Supervisors, East region")
    page.wait_for_selector("#progress")
    page.screenshot(path=str(site.shots / "progress-1280.png"), full_page=True)
    view = site.api("/cohorts/east/progress").json()
    shown = rows(page, "progress")
    assert len(shown) == len(view["members"])
    for row in shown:
        member = view["members"][int(row.get_attribute("data-position"))]
        assert field(row, "completed") == str(member["completed_required"])
        assert field(row, "percent") == percent(member["progress"])
        assert field(row, "overdue") == str(len(member["overdue"]))
        done = row.locator("td.done").count()
        overdue = row.locator("td.overdue").count()
        assert (done, overdue) == (member["completed_required"], len(member["overdue"]))
    # status is said in words, not only by colour
    assert page.locator("td.overdue i").first.text_content() == "Overdue"

    page.click('a[data-sort="progress"]')
    page.wait_for_selector('th[aria-sort="ascending"] a[data-sort="progress"]')
    ascending = [int(field(r, "completed")) for r in rows(page, "progress")]
    assert ascending == sorted(ascending)
    page.click('a[data-sort="progress"]')
    page.wait_for_selector('th[aria-sort="descending"] a[data-sort="progress"]')
    descending = [int(field(r, "completed")) for r in rows(page, "progress")]
    assert descending == sorted(ascending, reverse=True)


def test_the_as_of_chooser_shows_the_progress_api_of_that_date(page, site):
    page.goto(site.base + "/cohorts/south/progress")
    start = site.api("/cohorts").json()
    south = next(c for c in start if c["key"] == "south")
    page.fill("#as_of", south["starts"])
    page.click("form.filters button")
    page.wait_for_url("**as_of=" + south["starts"] + "*")
    view = site.api("/cohorts/south/progress", as_of=south["starts"]).json()
    for row in rows(page, "progress"):
        member = view["members"][int(row.get_attribute("data-position"))]
        assert field(row, "completed") == str(member["completed_required"])


def test_the_engagement_tab_equals_the_api_with_a_weekly_chart_and_a_line_per_member(page, site):
    page.goto(site.base + "/cohorts/north/engagement")
    page.screenshot(path=str(site.shots / "engagement-1280.png"), full_page=True)
    view = site.api("/cohorts/north/engagement").json()
    assert page.locator("figure.chart svg rect").count() == len(view["weeks"])
    for row in rows(page, "engagement"):
        member = view["members"][int(row.get_attribute("data-position"))]
        assert field(row, "statements") == str(member["statements"])
        assert field(row, "active_days") == str(member["active_days"])
        assert field(row, "contributions") == str(member["contributions"])
        assert row.locator("svg.spark").count() == 1
    page.fill("#from", view["from"])
    page.fill("#to", view["from"])
    page.click("form.filters button")
    page.wait_for_url(f"**to={view['from']}*")
    narrow = site.api("/cohorts/north/engagement", **{"from": view["from"], "to": view["from"]}).json()
    for row in rows(page, "engagement"):
        member = narrow["members"][int(row.get_attribute("data-position"))]
        assert field(row, "statements") == str(member["statements"])


def test_the_success_tab_equals_the_api(page, site):
    page.goto(site.base + "/cohorts/north/success")
    page.screenshot(path=str(site.shots / "success-1280.png"), full_page=True)
    view = site.api("/cohorts/north/success").json()
    summary = page.locator("#summary")
    assert field(summary, "pass_rate") == percent(view["summary"]["pass_rate"])
    assert field(summary, "mean_scaled_score") == f"{view['summary']['mean_scaled_score']:.2f}"
    for row in rows(page, "success"):
        member = view["members"][int(row.get_attribute("data-position"))]
        assert field(row, "passed") == f"{member['assessments_passed']}/{member['assessments_attempted']}"
        score = member["mean_scaled_score"]
        assert field(row, "mean_scaled_score") == ("–" if score is None else f"{score:.2f}")


@pytest.mark.parametrize("tab", ["progress", "engagement", "success"])
def test_each_tables_csv_download_is_what_the_api_answers_with_format_csv(page, site, tab):
    page.goto(site.base + f"/cohorts/south/{tab}")
    with page.expect_download() as download:
        page.click("#csv")
    got = download.value.path().read_bytes()
    assert got == site.api(f"/cohorts/south/{tab}", format="csv").content
    assert download.value.suggested_filename == f"south-{tab}.csv"


# ---- a member, the statements ------------------------------------------------------------------

def test_a_members_page_shows_their_progress_items_and_timeline(page, site):
    page.goto(site.base + "/cohorts/north/progress")
    first = rows(page, "progress")[0]
    name = first.locator("th a").inner_text()
    first.locator("th a").click()
    page.wait_for_selector("#timeline")
    assert page.locator("h1").inner_text() == name
    member = site.api("/cohorts/north/progress").json()["members"][0]
    assert page.locator('.meta [data-field="percent"]').inner_text() == percent(member["progress"])
    assert page.locator("#items tbody tr").count() == len(site.api("/programmes/supervisors").json()["items"])
    assert page.locator("#timeline tbody tr").count() > 0


def test_the_statements_browser_filters_pages_and_shows_a_statements_json_as_text(page, site):
    page.goto(site.base + "/statements")
    assert page.locator("#statements tbody tr").count() == 20
    page.click("#next-page")
    page.wait_for_url("**more=*")
    first = page.locator("#statements tbody tr").first
    first.locator("summary").click()
    shown = json.loads(first.locator("pre.json").inner_text())
    assert shown["id"] == first.get_attribute("data-id")
    verb = "http://adlnet.gov/expapi/verbs/attended"
    page.goto(site.base + "/statements")
    page.fill("#f-verb", verb)
    page.click("form.filters button")
    page.wait_for_url("**verb=*")
    ids = [r.get_attribute("data-id") for r in page.locator("#statements tbody tr").all()]
    assert ids
    for statement_id in ids[:3]:
        got = site.http.get(site.base + "/xapi/statements", params={"statementId": statement_id}, headers=V2).json()
        assert got["verb"]["id"] == verb


# ---- language ----------------------------------------------------------------------------------

def test_the_language_switch_shows_finnish_with_finnish_numbers_and_back(page, site):
    page.goto(site.base + "/cohorts/east/progress")
    page.select_option("#lang", "fi")
    page.click("#language-form button")
    page.wait_for_selector('html[lang="fi"]')
    assert page.locator('nav.tabs a[aria-current="page"]').inner_text() == "Eteneminen"
    member = site.api("/cohorts/east/progress").json()["members"][0]
    row = page.locator('#progress tbody tr[data-position="0"]')
    assert field(row, "percent") == percent(member["progress"]).replace("%", "\u00a0%")
    page.screenshot(path=str(site.shots / "progress-fi-1280.png"), full_page=True)
    page.select_option("#lang", "en")
    page.click("#language-form button")
    page.wait_for_selector('html[lang="en"]')


def test_accept_language_finnish_gets_finnish_pages(browser, site):
    context = browser.new_context(locale="fi-FI")
    page = context.new_page()
    page.goto(site.base + "/sign-in")
    assert page.locator("html").get_attribute("lang") == "fi"
    assert page.locator("h1").inner_text() == "Kirjaudu sisään"
    context.close()


# ---- live --------------------------------------------------------------------------------------

def test_a_new_statement_changes_the_open_cohort_page_without_a_reload(page, site):
    view = site.api("/cohorts/east/progress").json()
    position, member = next((i, m) for i, m in enumerate(view["members"]) if m["overdue"])
    page.goto(site.base + "/cohorts/east/progress")
    page.wait_for_selector(".live-mark:not([hidden])")  # the page is listening
    page.evaluate("window.notReloaded = true")
    row = f'#progress tbody tr[data-position="{position}"] [data-field="completed"]'
    assert page.locator(row).inner_text() == str(member["completed_required"])
    statement = {
        "id": str(uuid.uuid4()),
        "actor": member["member"] | {"objectType": "Agent"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
        "object": {"id": member["overdue"][0], "objectType": "Activity"},
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }
    actor = {k: v for k, v in statement["actor"].items() if k in ("objectType", "name", "mbox")}
    statement["actor"] = actor
    response = site.http.post(site.base + "/xapi/statements", json=statement, headers=V2)
    assert response.status_code == 200, response.text
    page.wait_for_function(
        "([selector, expected]) => document.querySelector(selector).textContent.trim() === expected",
        arg=[row, str(member["completed_required"] + 1)],
        timeout=WAIT_MS,
    )
    assert page.evaluate("window.notReloaded") is True
    after = site.api("/cohorts/east/progress").json()["members"][position]
    assert page.locator(row).inner_text() == str(after["completed_required"])


def test_every_page_reads_and_sorts_without_javascript(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, site)
    page.wait_for_selector("#cohorts")
    view = site.api("/cohorts/north/progress").json()
    page.goto(site.base + "/cohorts/north/progress")
    page.click('a[data-sort="overdue"]')
    page.wait_for_selector('th[aria-sort="ascending"] a[data-sort="overdue"]')
    shown = [int(field(r, "overdue")) for r in rows(page, "progress")]
    assert shown == sorted(len(m["overdue"]) for m in view["members"])
    for tab in ("engagement", "success"):
        page.click(f"nav.tabs >> text={tab.capitalize()}")
        page.wait_for_selector(f"#{tab}")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    context.close()


# ---- narrow screens, keyboard, sign out --------------------------------------------------------

def test_pages_are_usable_390_px_wide_without_sideways_scrolling_of_the_page(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, site)
    for path in ("/cohorts", "/cohorts/north/progress", "/cohorts/north/engagement", "/cohorts/north/success", "/statements"):
        page.goto(site.base + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} is wider than the screen by {overflow}px"
        name = path.strip("/").replace("/", "-")
        page.screenshot(path=str(site.shots / f"{name}-390.png"), full_page=True)
    context.close()


def test_the_keyboard_reaches_the_tabs_and_the_matrix(page, site):
    page.goto(site.base + "/cohorts/north/progress")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    reached = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.textContent.trim() + '|' + (document.activeElement.getAttribute('role') || '')"))
    assert any(text.startswith("Engagement") for text in reached)
    assert any(text.endswith("|region") for text in reached), "the scrolling matrix takes focus for the arrow keys"


def test_signing_out_ends_the_session(page, site):
    page.goto(site.base + "/cohorts")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    page.goto(site.base + "/cohorts/north/progress")
    assert page.url.startswith(site.base + "/sign-in")


# ---- scale-out ---------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.kafka
def test_in_the_scale_out_mode_a_new_statement_changes_the_open_cohort_page(browser, fresh_lrs):
    """Kafka log, PostgreSQL read models, a separate projection worker: the page follows the
    position the worker records."""
    lrs = fresh_lrs("scale-out")
    site = Site(lrs, None)
    ns = f"https://scale-out.example/{uuid.uuid4().hex[:8]}"
    item = {"activity": f"{ns}/day-1", "title": "Coaching day 1", "kind": "coaching-day", "required": True, "due": None}
    member = {"objectType": "Agent", "name": "Aino", "mbox": "mailto:aino@scale-out.example"}
    cohort = {"name": "Scale-out", "programme": "p", "iri": f"{ns}/cohort", "starts": "2026-01-05", "ends": "2026-12-20",
              "members": [member]}
    assert site.http.put(site.base + "/api/v1/programmes/p", json={"name": "P", "items": [item]}).status_code == 201
    assert site.http.put(site.base + "/api/v1/cohorts/c", json=cohort).status_code == 201
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site)
    page.goto(site.base + "/cohorts/c/progress")
    page.wait_for_selector(".live-mark:not([hidden])")
    page.evaluate("window.notReloaded = true")
    cell = '#progress tbody tr[data-position="0"] [data-field="completed"]'
    assert page.locator(cell).inner_text() == "0"
    done = {"id": str(uuid.uuid4()), "actor": member, "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": item["activity"]}, "timestamp": datetime.now(timezone.utc).isoformat()}
    assert site.http.post(site.base + "/xapi/statements", json=done, headers=V2).status_code == 200
    page.wait_for_function("s => document.querySelector(s).textContent.trim() === '1'", arg=cell, timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True
    context.close()
