"""The admin console at /docs, in a real browser against the real server.

Debian's Chromium, driven through its own chromedriver, opens the self-hosted Swagger UI the
way an admin would: every operation of the spec is listed, the OAuth2 password flow logs the
demo admin in with a second factor (as production requires of admins: the code goes in the
dialog's client_secret), the admin lists sellers and approves a pending one from the page, the login
survives a reload, and nothing the page loads comes from anywhere but the server itself.
"""

import json
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.outside.live import DEMO_PASSWORDS, REPO_ROOT, LiveServer, base_environment

if TYPE_CHECKING:
    from tests.conftest import ScratchDatabases

T = TypeVar("T")
WAIT_SECONDS = 30.0
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# Hosts the page may talk to: the server under test, and nothing else.
LOCAL_HOSTS = frozenset({"127.0.0.1"})
# Inline resources (Swagger UI's SVG icons, downloads it builds) never leave the browser.
INLINE_SCHEMES = frozenset({"data", "blob"})
NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the test may run as root in a container, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Chromium's own chatter (updates, sync, safe browsing lists) would reach the internet.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # /dev/shm is tiny in containers; a full one crashes tabs
    "--window-size=1400,1000",
)


@pytest.fixture
def server(scratch_databases: "ScratchDatabases", tmp_path: Path) -> Iterator[LiveServer]:
    """A migrated, demo-seeded `marketplace serve`, as the README has a newcomer start it."""
    live = LiveServer(
        command=[sys.executable, "-m", "app.cli"],
        env=base_environment(
            MARKETPLACE_DATABASE_URL=scratch_databases.new_url(),
            MARKETPLACE_MEDIA_DIR=str(tmp_path / "media"),
            # The sweeps have nothing to do here; without them the log shows only the console.
            MARKETPLACE_RUN_WORKER_IN_PROCESS="false",
            # As in production: the admin needs a second factor, typed into the console.
            MARKETPLACE_REQUIRE_ADMIN_TOTP="true",
        ),
        cwd=REPO_ROOT,
        log_path=tmp_path / "server.log",
    )
    live.run("migrate")
    live.run("seed-demo")
    with live.serving():
        yield live


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        # A missing browser must not pass for a working console: fail, never skip.
        pytest.fail(
            "the console check needs Debian's Chromium and its driver on PATH "
            f"(chromium: {chromium}, chromedriver: {chromedriver}); "
            "install them with `apt-get install chromium chromium-driver`"
        )
    options = webdriver.ChromeOptions()
    # Both paths given, so Selenium Manager never runs (it would try to download a browser).
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    # The performance log carries every network request the page made (step 5).
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(executable_path=chromedriver, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


class RequestLog:
    """Every request the browser made, read from the performance log. ChromeDriver hands out
    each entry once, so the log is drained after every step rather than only at the end.

    The log also holds the browser's own start tab (chrome:// pages and their bundled files),
    which is not the console: requests are told apart by the document that made them.
    """

    def __init__(self, driver: WebDriver, page_origin: str) -> None:
        self.driver = driver
        self.page_origin = page_origin
        self.page_urls: list[str] = []
        self.other_urls: list[str] = []

    def drain(self) -> None:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                params = message["params"]
                document: str = params.get("documentURL", "")
                urls = self.page_urls if document.startswith(self.page_origin) else self.other_urls
                urls.append(params["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                self.other_urls.append(message["params"]["url"])

    def foreign(self) -> list[str]:
        """What reached beyond the server: from the console, anything neither 127.0.0.1 nor
        inline; from anywhere in the browser, any network request to another host."""
        return [url for url in self.page_urls if not (_inline(url) or _local(url))] + [
            url for url in self.other_urls if _networked(url) and not _local(url)
        ]


def _inline(url: str) -> bool:
    return urlsplit(url).scheme in INLINE_SCHEMES


def _local(url: str) -> bool:
    return urlsplit(url).hostname in LOCAL_HOSTS


def _networked(url: str) -> bool:
    return urlsplit(url).scheme in NETWORK_SCHEMES


@contextmanager
def evidence(driver: WebDriver, server: LiveServer, tmp_path: Path) -> Iterator[None]:
    """On any failure: a screenshot and the page's DOM beside the test, named in the message
    together with the server's log tail, so a red run explains itself."""
    try:
        yield
    except Exception as failure:
        screenshot, page = tmp_path / "console-failure.png", tmp_path / "console-failure.html"
        try:
            driver.save_screenshot(str(screenshot))
            page.write_text(driver.page_source)
        except WebDriverException as error:  # the browser itself may be what died
            page.write_text(f"<no page source: {error}>")
        raise AssertionError(
            f"{type(failure).__name__}: {failure}\n"
            f"screenshot: {screenshot}\npage source: {page}\n"
            f"server log tail:\n{server.log_tail()}"
        ) from failure


def until(driver: WebDriver, what: str, condition: Callable[[WebDriver], T | bool]) -> T:
    """`condition`'s first truthy answer, polled for at most WAIT_SECONDS."""
    # React replaces nodes as it re-renders: an element gone stale is looked for again.
    result: T = WebDriverWait(
        driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)
    ).until(condition, message=f"not within {WAIT_SECONDS:.0f} s: {what}")
    return result


def visible(driver: WebDriver, css: str, within: WebElement | None = None) -> WebElement:
    """The first visible element matching `css` (inside `within`), waited for."""
    scope: WebDriver | WebElement = within if within is not None else driver

    def find(_: WebDriver) -> WebElement | bool:
        for element in scope.find_elements(By.CSS_SELECTOR, css):
            if element.is_displayed() and element.is_enabled():
                return element
        return False

    element: WebElement = until(driver, f"`{css}` is shown", find)
    return element


def click(driver: WebDriver, element: WebElement) -> None:
    # Centred first: at the page's edge a click can land on a neighbouring opblock's header.
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def replace_text(element: WebElement, text: str) -> None:
    """Type over a React-controlled field: `clear()` bypasses React's change events, so the
    old value would come back; select-all and typing goes through them."""
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(text)


def is_locked(driver: WebDriver) -> bool:
    """Whether the top Authorize button shows the closed lock of an authorised console."""
    button = visible(driver, ".auth-wrapper button.authorize")
    return "locked" in (button.get_attribute("class") or "").split()


def spec_operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def opblock(driver: WebDriver, spec: dict[str, Any], method: str, path: str) -> WebElement:
    """The operation's block, found by the id Swagger UI derives from its first tag and
    operationId (what a deep link to it uses)."""
    operation = spec_operations(spec)[(method, path)]
    block_id = f"operations-{operation['tags'][0]}-{operation['operationId']}"
    return visible(driver, f"[id='{block_id}']")


def execute(driver: WebDriver, block: WebElement) -> tuple[str, str]:
    """Press Execute in an expanded, tried-out block; the live response's status and body."""
    click(driver, visible(driver, "button.execute", block))
    status_cell = visible(driver, ".live-responses-table tr.response td.response-col_status", block)
    body = block.find_elements(
        By.CSS_SELECTOR, ".live-responses-table tr.response td.response-col_description code"
    )
    # textContent, not .text: the body sits in a scrolling box, and .text gives only what shows.
    shown = body[0].get_attribute("textContent") if body else None
    return status_cell.text.strip(), shown or "<no body shown>"


def expand_and_try(driver: WebDriver, block: WebElement) -> None:
    """Open an operation and switch it to "Try it out"."""
    if "is-open" not in (block.get_attribute("class") or ""):
        click(driver, visible(driver, ".opblock-summary-control", block))
    click(driver, visible(driver, "button.try-out__btn", block))


def pending_seller(base_url: str) -> str:
    """A new user's seller application, waiting for review: the demo data has only its one
    approved shop, so the console's approval needs an applicant of its own."""
    suffix = uuid.uuid4().hex[:8]
    email, password = f"applicant-{suffix}@example.com", f"applicant-password-{suffix}"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        registered = client.post(
            "/v1/auth/register",
            json={"email": email, "password": password, "display_name": "Console Applicant"},
        )
        assert registered.status_code == 202, registered.text
        tokens = client.post("/v1/auth/token", data={"username": email, "password": password})
        assert tokens.status_code == 200, tokens.text
        applied = client.post(
            "/v1/sellers",
            headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
            json={
                "shop_name": f"Console Applicant {suffix}",
                "legal_name": "Console Applicant",
                "seller_type": "individual",
                "country": "DE",
                "contact_email": email,
                "contact_phone": "+49 30 7654321",
                "payout_account": "DE02120300000000202051",
            },
        )
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "pending_review", applied.json()
    seller_id: str = applied.json()["id"]
    return seller_id


def enrol_second_factor(base_url: str, email: str, password: str) -> tuple[str, list[str]]:
    """The demo admin enrols a TOTP factor through the API (all an admin without one may
    do), confirming with the previous time step's code so that the current one, which the
    console will send, is still unspent. Its secret and recovery codes."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        tokens = client.post("/v1/auth/token", data={"username": email, "password": password})
        assert tokens.status_code == 200, tokens.text
        headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        refused = client.get("/v1/admin/sellers", headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "second_factor_required"
        enrolled = client.post("/v1/me/totp", json={"password": password}, headers=headers)
        assert enrolled.status_code == 201, enrolled.text
        secret: str = enrolled.json()["secret"]
        previous = pyotp.TOTP(secret).at(time.time() - 30)
        confirmed = client.post("/v1/me/totp/confirm", json={"code": previous}, headers=headers)
        assert confirmed.status_code == 200, confirmed.text
        codes: list[str] = confirmed.json()["recovery_codes"]
    return secret, codes


def admin_login(base_url: str, email: str, password: str, recovery_code: str) -> str:
    response = httpx.post(
        f"{base_url}/v1/auth/token",
        data={"username": email, "password": password, "client_secret": recovery_code},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_admin_console_in_a_browser(server: LiveServer, browser: WebDriver, tmp_path: Path) -> None:
    driver, base_url = browser, server.base_url
    spec: dict[str, Any] = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    operations = spec_operations(spec)
    # Swagger UI lists an operation once under each of its tags (untagged ones under
    # "default"); it hides none, as no filter or `x-` hiding is configured in app/core/docs.py.
    expected_blocks = sum(max(1, len(op.get("tags", []))) for op in operations.values())
    seller_id = pending_seller(base_url)
    email, password = DEMO_PASSWORDS["admin"]
    secret, recovery_codes = enrol_second_factor(base_url, email, password)
    requests = RequestLog(driver, page_origin=f"{base_url}/")

    with evidence(driver, server, tmp_path):
        # 1. Every operation is listed (docExpansion's default, "list", shows them all).
        driver.get(f"{base_url}/docs")
        try:
            until(
                driver,
                "every operation is rendered",
                lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= expected_blocks,
            )
        except TimeoutException:
            rendered = len(driver.find_elements(By.CSS_SELECTOR, ".opblock"))
            raise AssertionError(
                f"{rendered} operation blocks rendered, the spec needs {expected_blocks}"
            ) from None
        shown: list[list[str]] = driver.execute_script(
            """return Array.from(document.querySelectorAll('.opblock')).map(block => [
                block.querySelector('.opblock-summary-method').textContent.trim(),
                block.querySelector('.opblock-summary-path').getAttribute('data-path')])"""
        )
        rendered_operations = {(method, path) for method, path in shown}
        print(  # noqa: T201 - the outside checks report what they saw (pytest -s)
            f"console: {len(rendered_operations)} operations rendered "
            f"(spec has {len(operations)}; {len(shown)} blocks across tags)"
        )
        assert rendered_operations == set(operations), (
            f"missing: {sorted(set(operations) - rendered_operations)}; "
            f"unexpected: {sorted(rendered_operations - set(operations))}"
        )
        assert len(shown) == expected_blocks
        assert len(operations) > 100
        requests.drain()

        # 2. The OAuth2 password flow logs the demo admin in, the authenticator's code in
        # client_secret (which Swagger sends as HTTP Basic client authentication).
        authorize = visible(driver, ".auth-wrapper button.authorize")
        click(driver, authorize)
        modal = visible(driver, ".dialog-ux .modal-ux")
        visible(driver, "#oauth_username", modal).send_keys(email)
        visible(driver, "#oauth_password", modal).send_keys(password)
        visible(driver, "#client_secret_password", modal).send_keys(pyotp.TOTP(secret).now())
        click(driver, visible(driver, "button.modal-btn.auth.authorize", modal))
        try:
            until(
                driver,
                "the modal offers Logout",
                lambda d: any(
                    button.text.strip() == "Logout"
                    for button in d.find_elements(By.CSS_SELECTOR, ".modal-ux button.modal-btn")
                ),
            )
        except TimeoutException:
            raise AssertionError(
                f"the password flow did not authorise; the modal says:\n{modal.text}"
            ) from None
        click(driver, visible(driver, "button.btn-done", modal))
        until(
            driver,
            "the modal closes",
            lambda d: not d.find_elements(By.CSS_SELECTOR, ".dialog-ux .modal-ux"),
        )
        until(driver, "the Authorize button shows the lock", lambda _: is_locked(driver))
        requests.drain()

        # 3. The review queue, listed from the page with the admin's token.
        sellers = opblock(driver, spec, "GET", "/v1/admin/sellers")
        expand_and_try(driver, sellers)
        status, body = execute(driver, sellers)
        assert status == "200", f"GET /v1/admin/sellers answered {status}:\n{body}"
        assert seller_id in body, f"the pending applicant is not in the listing:\n{body}"
        requests.drain()

        # 4. The pending applicant approved from the page, with a reason in the body.
        approve = opblock(driver, spec, "POST", "/v1/admin/sellers/{seller_id}/approve")
        expand_and_try(driver, approve)
        visible(driver, "tr[data-param-name='seller_id'] input", approve).send_keys(seller_id)
        reason = "approved from the console"
        replace_text(
            visible(driver, "textarea.body-param__text", approve), json.dumps({"reason": reason})
        )
        status, body = execute(driver, approve)
        assert status == "200", f"the approval answered {status}:\n{body}"
        requests.drain()

        admin_token = admin_login(base_url, email, password, recovery_codes[0])
        seller = httpx.get(
            f"{base_url}/v1/admin/sellers/{seller_id}",
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=30,
        )
        assert seller.status_code == 200, seller.text
        assert (seller.json()["status"], seller.json()["status_reason"]) == ("approved", reason)

        # persistAuthorization: a reload keeps the admin logged in (localStorage), so a call
        # made after it still carries the token.
        driver.refresh()
        until(
            driver,
            "the console renders again after a reload",
            lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= expected_blocks,
        )
        assert is_locked(driver), "the authorisation did not survive a reload"
        sellers = opblock(driver, spec, "GET", "/v1/admin/sellers")
        expand_and_try(driver, sellers)
        status, body = execute(driver, sellers)
        assert status == "200", f"after a reload GET /v1/admin/sellers answered {status}:\n{body}"
        requests.drain()

        # 5. Nothing came from outside: no CDN, no validator, no fonts.
        assert requests.page_urls, "the performance log recorded no request of the console"
        assert not requests.foreign(), f"the browser reached outside: {requests.foreign()}"
        print(  # noqa: T201 - see above
            f"console: {len(requests.page_urls)} requests of the page checked, all to 127.0.0.1 "
            f"or inline ({len(requests.other_urls)} of the browser's own start tab, none to a "
            "network host)"
        )
