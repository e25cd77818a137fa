"""Signing in, what HQ and a store manager see, both languages, desktop and phone."""

import re
from typing import Any

import pytest

from backroom.config.demo import DEMO_PASSWORD
from tests.browser.conftest import PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Any, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form[action='/login/'] button[type=submit]")


def nav_hrefs(page: Any) -> list[str]:
    return page.locator("[data-testid=nav] a").evaluate_all("links => links.map(a => a.pathname)")


def switch_to_chinese(page: Any) -> None:
    page.click("[data-testid=language-switcher] button[value=zh-hans]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-hans"


def test_hq_admin_sees_the_whole_chain_in_both_languages(demo, live_server, page_at, viewport):
    page, (size, _dimensions) = page_at, viewport
    sign_in(page, live_server.url, "admin")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("[data-testid=store-row]").count() == 12
    assert page.locator("[data-testid=kpi-stores-open]").inner_text().startswith("12")
    assert page.locator("[data-testid=store-table]").get_by_text("SH001").count() == 1
    assert page.locator("[data-testid=store-table]").get_by_text("HK002").count() == 1
    assert {"/org/", "/users/", "/audit/", "/tokens/"} <= set(nav_hrefs(page))
    assert page.locator("[data-testid=page-title]").inner_text() == "Home"
    screenshot(page, f"hq-home-en-{size}")

    switch_to_chinese(page)
    assert page.locator("[data-testid=page-title]").inner_text() == "首页"
    assert page.get_by_text("营业中门店").count() == 1
    assert page.locator("[data-testid=store-row]").count() == 12
    screenshot(page, f"hq-home-zh-{size}")

    page.goto(f"{live_server.url}/org/")
    assert page.locator("[data-testid=tree-row]").count() == 20
    assert page.locator("[data-testid=org-tree]").get_by_text("门店").count() == 12
    screenshot(page, f"hq-org-zh-{size}")

    page.goto(f"{live_server.url}/users/")
    assert page.locator("[data-testid=user-row]").count() == 9
    assert (
        page.locator("[data-testid=user-row][data-username=admin]")
        .get_by_text("总部管理员 @ GRP")
        .count()
        == 1
    )
    screenshot(page, f"hq-users-zh-{size}")

    if size == "phone":
        nav = page.locator("[data-testid=nav]")
        assert not nav.is_visible()
        page.click(".navbar-toggler")
        # Bootstrap's collapse ends its animation by setting "collapse show".
        page.wait_for_selector("#sidebar-menu.collapse.show")
        screenshot(page, "hq-menu-zh-phone")
        nav.get_by_text("审计日志").click()
        page.wait_for_url(f"{live_server.url}/audit/")
        assert page.locator("[data-testid=audit-row]").count() > 0
    assert page.js_errors == []


def test_store_manager_sees_only_their_store(demo, live_server, page_at, viewport):
    page, (size, _dimensions) = page_at, viewport
    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")
    card = page.locator("[data-testid=store-card]")
    assert card.count() == 1
    assert "SH001" in card.inner_text()
    assert "People's Square" in card.inner_text()
    assert re.search(r"\d", page.locator("[data-testid=business-date]").inner_text())
    assert page.locator("[data-testid=store-row]").count() == 0
    assert page.get_by_text("SH002").count() == 0
    hrefs = set(nav_hrefs(page))
    assert "/audit/" not in hrefs
    assert "/org/" in hrefs
    screenshot(page, f"manager-home-en-{size}")

    switch_to_chinese(page)
    assert page.get_by_text("今天的营业日").count() == 1
    screenshot(page, f"manager-home-zh-{size}")

    assert page.js_errors == []

    response = page.goto(f"{live_server.url}/audit/")
    assert response.status == 403
    assert page.get_by_text("您没有查看此页面的权限。").count() == 1


@pytest.mark.parametrize("viewport", [("phone", PHONE)])
def test_wrong_password_shows_the_error_and_sign_out_works(demo, live_server, page_at, viewport):
    page, (size, _dimensions) = page_at, viewport
    sign_in(page, live_server.url, "admin", "not-the-password")
    assert page.locator("[data-testid=login-error]").inner_text() == "Wrong username or password."
    screenshot(page, f"login-error-en-{size}")
    switch_to_chinese(page)
    sign_in(page, live_server.url, "admin", "still-wrong")
    assert page.locator("[data-testid=login-error]").inner_text() == "用户名或密码错误。"
    screenshot(page, f"login-error-zh-{size}")

    sign_in(page, live_server.url, "admin")
    page.wait_for_url(f"{live_server.url}/")
    page.click("form[action='/logout/'] button")
    page.wait_for_url(f"{live_server.url}/login/")
    page.goto(f"{live_server.url}/org/")
    assert page.url.startswith(f"{live_server.url}/login/")
