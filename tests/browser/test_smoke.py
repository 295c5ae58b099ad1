from playwright.sync_api import Page

from tests.browser.conftest import Watch
from tests.browser.ledger import Dashboard


def test_healthz(page: Page, dashboard: Dashboard, watch: Watch) -> None:
    page.goto("/healthz")
    assert '"status":"ok"' in page.content()
    assert watch.problems() == {}
