"""Chart templates are data that books are built from; these checks keep them coherent."""

import re

import pytest

from backroom.finance.charts import (
    ACCOUNT_MAPS,
    CHARTS,
    EXPENSE_CATEGORIES,
    EXPENSE_CATEGORY_LABELS,
    AccountTemplate,
    ChartTemplate,
    chart,
)
from backroom.finance.choices import AccountKind, PostingRole

ASSET = AccountKind.ASSET
LIABILITY = AccountKind.LIABILITY
EQUITY = AccountKind.EQUITY
REVENUE = AccountKind.REVENUE
EXPENSE = AccountKind.EXPENSE

# The kind a role's account must have. Input VAT is the one role with two answers, see below.
ROLE_KINDS = {
    PostingRole.INVENTORY: ASSET,
    PostingRole.GOODS_RECEIVED_NOT_INVOICED: LIABILITY,
    PostingRole.ACCOUNTS_PAYABLE: LIABILITY,
    PostingRole.INPUT_TAX: ASSET,
    PostingRole.PURCHASE_PRICE_VARIANCE: EXPENSE,
    PostingRole.COST_OF_SALES: EXPENSE,
    PostingRole.WASTE: EXPENSE,
    PostingRole.INVENTORY_VARIANCE: EXPENSE,
    PostingRole.INTERCOMPANY_RECEIVABLE: ASSET,
    PostingRole.INTERCOMPANY_PAYABLE: LIABILITY,
    PostingRole.SALES_REVENUE: REVENUE,
    PostingRole.OUTPUT_TAX: LIABILITY,
    PostingRole.SALES_DISCOUNTS: REVENUE,
    PostingRole.PACKAGING_FEES: REVENUE,
    PostingRole.PLATFORM_FEES: EXPENSE,
    PostingRole.PLATFORM_RECEIVABLE: ASSET,
    PostingRole.CASH: ASSET,
    PostingRole.BANK: ASSET,
    PostingRole.STAFF_PAYABLE: LIABILITY,
    PostingRole.OPERATING_EXPENSES: EXPENSE,
    PostingRole.FX_UNREALISED: EXPENSE,
    PostingRole.FX_REALISED: EXPENSE,
    PostingRole.RETAINED_EARNINGS: EQUITY,
}

charts = pytest.mark.parametrize("template", CHARTS.values(), ids=list(CHARTS))


def by_code(template: ChartTemplate) -> dict[str, AccountTemplate]:
    return {account.code: account for account in template.accounts}


def test_role_kinds_cover_every_role():
    assert set(ROLE_KINDS) == set(PostingRole)


def test_charts_are_keyed_by_their_code():
    assert set(CHARTS) == {"cn_small_business", "ifrs"}
    for code, template in CHARTS.items():
        assert template.code == code
        assert chart(code) is template
        assert str(template.label)


def test_unknown_chart_is_a_value_error():
    with pytest.raises(ValueError, match=r"Unknown chart template 'nope'.*cn_small_business, ifrs"):
        chart("nope")


@charts
def test_codes_are_unique_and_well_formed(template: ChartTemplate):
    codes = [account.code for account in template.accounts]
    assert len(codes) == len(set(codes))
    pattern = r"\d{4}" if template.code == "ifrs" else r"\d{4}(\.\d{2})?"
    malformed = [code for code in codes if not re.fullmatch(pattern, code)]
    assert malformed == []


@charts
def test_kinds_are_account_kinds(template: ChartTemplate):
    assert {account.kind for account in template.accounts} <= set(AccountKind.values)


@charts
def test_parents_are_earlier_headers_of_the_same_kind(template: ChartTemplate):
    seen: dict[str, AccountTemplate] = {}
    for account in template.accounts:
        if account.parent is not None:
            parent = seen.get(account.parent)
            assert parent is not None, f"{account.code}: parent {account.parent} not listed before"
            assert not parent.postable, f"{account.code}: parent {parent.code} is postable"
            assert account.kind == parent.kind, f"{account.code}: kind differs from its parent"
            if "." in account.code:
                assert account.code.rsplit(".", 1)[0] == account.parent
        seen[account.code] = account


@charts
def test_headers_are_exactly_the_accounts_with_children(template: ChartTemplate):
    parents = {account.parent for account in template.accounts if account.parent}
    headers = {account.code for account in template.accounts if not account.postable}
    assert headers == parents


@charts
def test_names_in_both_languages(template: ChartTemplate):
    for account in template.accounts:
        assert account.name.strip() and account.name.isascii(), account.code
        assert re.search(r"[\u4e00-\u9fff]", account.name_zh), account.code


@charts
def test_every_role_maps_to_a_postable_account_of_the_right_kind(template: ChartTemplate):
    accounts = by_code(template)
    assert set(template.roles) == set(PostingRole)
    for role, code in template.roles.items():
        account = accounts.get(code)
        assert account is not None, f"{role}: {code} is not in the chart"
        assert account.postable, f"{role}: {code} is a header"
        if role == PostingRole.INPUT_TAX and account.kind == LIABILITY:
            # Chinese practice: input VAT sits under 应交税费 beside output tax, netted there.
            output_tax = accounts[template.roles[PostingRole.OUTPUT_TAX]]
            assert account.parent is not None and account.parent == output_tax.parent
        else:
            assert account.kind == ROLE_KINDS[PostingRole(role)], f"{role}: {code}"


@charts
def test_roles_that_need_their_own_account_do_not_share_one(template: ChartTemplate):
    codes = list(template.roles.values())
    assert len(codes) == len(set(codes))


def test_retained_earnings_and_inventory_accounts():
    cn, ifrs = by_code(CHARTS["cn_small_business"]), by_code(CHARTS["ifrs"])
    cn_roles, ifrs_roles = CHARTS["cn_small_business"].roles, CHARTS["ifrs"].roles
    assert cn[cn_roles[PostingRole.RETAINED_EARNINGS]].parent == "3104"  # 利润分配
    assert ifrs[ifrs_roles[PostingRole.RETAINED_EARNINGS]].name == "Retained earnings"
    assert cn_roles[PostingRole.INVENTORY] == "1403"  # 原材料
    assert ifrs[ifrs_roles[PostingRole.INVENTORY]].name == "Food and beverage"
    assert cn_roles[PostingRole.CASH] == "1001"  # 库存现金


def test_contra_accounts_keep_their_kind():
    cn, ifrs = by_code(CHARTS["cn_small_business"]), by_code(CHARTS["ifrs"])
    assert cn["1602"].kind == ASSET  # 累计折旧
    assert ifrs["1590"].kind == ASSET
    assert cn["5001.01"].kind == REVENUE  # 销售折扣
    assert ifrs["4020"].kind == REVENUE


def test_expense_categories_have_labels():
    assert set(EXPENSE_CATEGORIES) == set(EXPENSE_CATEGORY_LABELS)
    assert set(EXPENSE_CATEGORIES) == {"travel", "office", "repairs", "utilities", "meals", "other"}
    assert all(str(label) for label in EXPENSE_CATEGORY_LABELS.values())
    assert EXPENSE_CATEGORIES["travel"]["cn_small_business"] == "5602.01"


@charts
def test_expense_categories_map_to_postable_expense_accounts(template: ChartTemplate):
    accounts = by_code(template)
    for category, codes in EXPENSE_CATEGORIES.items():
        assert set(codes) == set(CHARTS), category
        account = accounts[codes[template.code]]
        assert account.postable and account.kind == EXPENSE, category
    other = EXPENSE_CATEGORIES["other"][template.code]
    assert other == template.roles[PostingRole.OPERATING_EXPENSES]


@pytest.mark.parametrize("pair", sorted(ACCOUNT_MAPS))
def test_an_account_map_covers_every_postable_account_and_keeps_the_roles(pair):
    """Every postable account of the primary chart lands on a postable account of the other,
    and each role's account lands on the other chart's account for that role."""
    source, target = chart(pair[0]), chart(pair[1])
    mapping = ACCOUNT_MAPS[pair]
    postable_source = {row.code for row in source.accounts if row.postable}
    postable_target = {row.code for row in target.accounts if row.postable}
    assert set(mapping) == postable_source
    assert set(mapping.values()) <= postable_target
    for role, code in source.roles.items():
        assert mapping[code] == target.roles[role], role
