"""Chart-of-accounts templates an entity's books start from, with a default account for every
posting role, so automatic postings work the day a book is opened.

Pure data: no models. Books copy a template's accounts when created; later edits to the books do
not flow back here.

Two deliberate choices in the Chinese chart (小企业会计准则):
- Input VAT is a sub-account of 2221 应交税费 with the liability kind, as Chinese practice keeps
  it (a debit balance netted against output tax inside the same header), not a separate asset.
- 5403 is named 税金及附加, its name since 财会〔2016〕22号 replaced 营业税金及附加.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from backroom.finance.choices import AccountKind, PostingRole

ASSET = AccountKind.ASSET
LIABILITY = AccountKind.LIABILITY
EQUITY = AccountKind.EQUITY
REVENUE = AccountKind.REVENUE
EXPENSE = AccountKind.EXPENSE


@dataclass(frozen=True, slots=True)
class AccountTemplate:
    """One account of a template; a header groups its children and takes no postings."""

    code: str  # digits and dots: "1403", "1403.01"
    name: str
    name_zh: str
    kind: str  # an AccountKind value
    parent: str | None = None  # code of the header above it
    postable: bool = True


@dataclass(frozen=True, slots=True)
class ChartTemplate:
    """A chart to start books from; `roles` maps every PostingRole to a postable account code."""

    code: str
    label: Promise
    accounts: tuple[AccountTemplate, ...]  # parents before their children
    roles: dict[str, str]


def _header(
    code: str, name: str, name_zh: str, kind: str, parent: str | None = None
) -> AccountTemplate:
    return AccountTemplate(code, name, name_zh, kind, parent, postable=False)


def _account(
    code: str, name: str, name_zh: str, kind: str, parent: str | None = None
) -> AccountTemplate:
    return AccountTemplate(code, name, name_zh, kind, parent)


CN_SMALL_BUSINESS = ChartTemplate(
    code="cn_small_business",
    label=_("China - Accounting Standards for Small Enterprises"),
    accounts=(
        # Assets
        _account("1001", "Cash on hand", "库存现金", ASSET),
        _account("1002", "Bank deposits", "银行存款", ASSET),
        _account("1012", "Other monetary funds (payment wallets)", "其他货币资金", ASSET),
        _header("1122", "Accounts receivable", "应收账款", ASSET),
        _account(
            "1122.01",
            "Accounts receivable - delivery platforms",
            "应收账款-外卖平台",
            ASSET,
            "1122",
        ),
        _account("1122.02", "Accounts receivable - customers", "应收账款-客户", ASSET, "1122"),
        _account("1123", "Prepayments", "预付账款", ASSET),
        _header("1221", "Other receivables", "其他应收款", ASSET),
        _account(
            "1221.01", "Other receivables - related parties", "其他应收款-关联方", ASSET, "1221"
        ),
        _account("1221.02", "Other receivables - deposits paid", "其他应收款-押金", ASSET, "1221"),
        _account(
            "1221.03", "Other receivables - staff advances", "其他应收款-员工备用金", ASSET, "1221"
        ),
        _account("1403", "Raw materials", "原材料", ASSET),
        _account("1405", "Merchandise", "库存商品", ASSET),
        _account("1411", "Packaging and low-value consumables", "周转材料", ASSET),
        _account("1601", "Fixed assets", "固定资产", ASSET),
        _account("1602", "Accumulated depreciation", "累计折旧", ASSET),
        _account("1801", "Long-term prepaid expenses (store fit-out)", "长期待摊费用", ASSET),
        # Liabilities
        _account("2001", "Short-term borrowings", "短期借款", LIABILITY),
        _header("2202", "Accounts payable", "应付账款", LIABILITY),
        _account(
            "2202.01",
            "Accounts payable - goods received not invoiced",
            "应付账款-暂估",
            LIABILITY,
            "2202",
        ),
        _account("2202.02", "Accounts payable - suppliers", "应付账款-供应商", LIABILITY, "2202"),
        _account("2203", "Advances from customers (stored-value cards)", "预收账款", LIABILITY),
        _account("2211", "Payroll payable", "应付职工薪酬", LIABILITY),
        _header("2221", "Taxes payable", "应交税费", LIABILITY),
        _account("2221.01", "VAT - input tax", "应交增值税(进项税额)", LIABILITY, "2221"),
        _account("2221.02", "VAT - output tax", "应交增值税(销项税额)", LIABILITY, "2221"),
        _account("2221.03", "VAT unpaid", "未交增值税", LIABILITY, "2221"),
        _account(
            "2221.04",
            "Urban maintenance and construction tax payable",
            "应交城市维护建设税",
            LIABILITY,
            "2221",
        ),
        _account("2221.05", "Education surcharges payable", "应交教育费附加", LIABILITY, "2221"),
        _account("2221.06", "Corporate income tax payable", "应交企业所得税", LIABILITY, "2221"),
        _account("2221.07", "Individual income tax withheld", "应交个人所得税", LIABILITY, "2221"),
        _header("2241", "Other payables", "其他应付款", LIABILITY),
        _account(
            "2241.01", "Other payables - related parties", "其他应付款-关联方", LIABILITY, "2241"
        ),
        _account(
            "2241.02",
            "Other payables - staff expense claims",
            "其他应付款-员工报销",
            LIABILITY,
            "2241",
        ),
        _account("2501", "Long-term borrowings", "长期借款", LIABILITY),
        # Equity
        _account("3001", "Paid-in capital", "实收资本", EQUITY),
        _account("3101", "Surplus reserve", "盈余公积", EQUITY),
        _account("3103", "Profit for the year", "本年利润", EQUITY),
        _header("3104", "Profit distribution", "利润分配", EQUITY),
        _account("3104.01", "Undistributed profit", "利润分配-未分配利润", EQUITY, "3104"),
        _account(
            "3104.02",
            "Appropriation to statutory surplus reserve",
            "利润分配-提取法定盈余公积",
            EQUITY,
            "3104",
        ),
        # Revenue; discounts are contra-revenue, so they stay revenue with a debit balance.
        _header("5001", "Main operating revenue", "主营业务收入", REVENUE),
        _account("5001.01", "Sales discounts", "主营业务收入-销售折扣", REVENUE, "5001"),
        _account("5001.02", "Food and beverage sales", "主营业务收入-餐饮收入", REVENUE, "5001"),
        _account("5051", "Other operating revenue (packaging fees)", "其他业务收入", REVENUE),
        _account("5301", "Non-operating income (subsidies)", "营业外收入", REVENUE),
        # Costs and expenses
        _header("5401", "Main operating costs", "主营业务成本", EXPENSE),
        _account("5401.01", "Cost of sales - food cost", "主营业务成本-食材成本", EXPENSE, "5401"),
        _account("5401.02", "Cost of sales - waste", "主营业务成本-损耗", EXPENSE, "5401"),
        _account(
            "5401.03",
            "Cost of sales - stock count variance",
            "主营业务成本-盘盈盘亏",
            EXPENSE,
            "5401",
        ),
        _account(
            "5401.04",
            "Cost of sales - purchase price variance",
            "主营业务成本-材料成本差异",
            EXPENSE,
            "5401",
        ),
        _account("5403", "Taxes and surcharges", "税金及附加", EXPENSE),
        _header("5601", "Selling expenses", "销售费用", EXPENSE),
        _account("5601.01", "Platform commission and fees", "销售费用-平台佣金", EXPENSE, "5601"),
        _account("5601.02", "Advertising and promotion", "销售费用-广告宣传费", EXPENSE, "5601"),
        _account("5601.03", "Store staff costs", "销售费用-职工薪酬", EXPENSE, "5601"),
        _account("5601.04", "Store rent", "销售费用-租赁费", EXPENSE, "5601"),
        _header("5602", "Administrative expenses", "管理费用", EXPENSE),
        _account("5602.01", "Travel", "管理费用-差旅费", EXPENSE, "5602"),
        _account("5602.02", "Office expenses", "管理费用-办公费", EXPENSE, "5602"),
        _account("5602.03", "Repairs and maintenance", "管理费用-修理费", EXPENSE, "5602"),
        _account("5602.04", "Utilities", "管理费用-水电费", EXPENSE, "5602"),
        _account("5602.05", "Meals and entertainment", "管理费用-业务招待费", EXPENSE, "5602"),
        _account("5602.06", "Office staff costs", "管理费用-职工薪酬", EXPENSE, "5602"),
        _account("5602.07", "Depreciation and amortisation", "管理费用-折旧摊销", EXPENSE, "5602"),
        _account("5602.99", "Other operating expenses", "管理费用-其他", EXPENSE, "5602"),
        # Exchange differences are expense accounts whose balance may be a gain (credit).
        _header("5603", "Finance expenses", "财务费用", EXPENSE),
        _account(
            "5603.01", "Exchange gains and losses - realised", "汇兑损益-已实现", EXPENSE, "5603"
        ),
        _account(
            "5603.02", "Exchange gains and losses - unrealised", "汇兑损益-未实现", EXPENSE, "5603"
        ),
        _account("5603.03", "Interest expense", "财务费用-利息费用", EXPENSE, "5603"),
        _account("5603.04", "Bank and payment charges", "财务费用-手续费", EXPENSE, "5603"),
        _account("5711", "Non-operating expenses", "营业外支出", EXPENSE),
        _account("5801", "Income tax expense", "所得税费用", EXPENSE),
    ),
    roles={
        PostingRole.INVENTORY: "1403",
        PostingRole.GOODS_RECEIVED_NOT_INVOICED: "2202.01",
        PostingRole.ACCOUNTS_PAYABLE: "2202.02",
        PostingRole.INPUT_TAX: "2221.01",
        PostingRole.PURCHASE_PRICE_VARIANCE: "5401.04",
        PostingRole.COST_OF_SALES: "5401.01",
        PostingRole.WASTE: "5401.02",
        PostingRole.INVENTORY_VARIANCE: "5401.03",
        PostingRole.INTERCOMPANY_RECEIVABLE: "1221.01",
        PostingRole.INTERCOMPANY_PAYABLE: "2241.01",
        PostingRole.SALES_REVENUE: "5001.02",
        PostingRole.OUTPUT_TAX: "2221.02",
        PostingRole.SALES_DISCOUNTS: "5001.01",
        PostingRole.PACKAGING_FEES: "5051",
        PostingRole.PLATFORM_FEES: "5601.01",
        PostingRole.PLATFORM_RECEIVABLE: "1122.01",
        PostingRole.CASH: "1001",
        PostingRole.BANK: "1002",
        PostingRole.STAFF_PAYABLE: "2241.02",
        PostingRole.OPERATING_EXPENSES: "5602.99",
        PostingRole.FX_UNREALISED: "5603.02",
        PostingRole.FX_REALISED: "5603.01",
        # Closed straight into undistributed profit; 3103 stays for month-by-month closing.
        PostingRole.RETAINED_EARNINGS: "3104.01",
    },
)

IFRS = ChartTemplate(
    code="ifrs",
    label=_("IFRS / HKFRS"),
    accounts=(
        # Assets
        _account("1000", "Cash on hand", "库存现金", ASSET),
        _account("1010", "Bank accounts", "银行存款", ASSET),
        _account("1020", "Payment wallets", "第三方支付账户", ASSET),
        _account("1100", "Trade receivables", "应收账款", ASSET),
        _account("1150", "Platform receivables", "应收外卖平台款", ASSET),
        _account("1160", "Intercompany receivables", "应收关联方款项", ASSET),
        _account("1170", "Prepayments and deposits", "预付款项及押金", ASSET),
        _account("1180", "Staff advances", "员工备用金", ASSET),
        _account("1190", "Input VAT recoverable", "待抵扣增值税进项税额", ASSET),
        _header("1200", "Inventories", "存货", ASSET),
        _account("1210", "Food and beverage", "食品及饮料", ASSET, "1200"),
        _account("1220", "Packaging and supplies", "包装物及物料", ASSET, "1200"),
        _account("1230", "Goods for resale", "库存商品", ASSET, "1200"),
        _header("1500", "Property, plant and equipment", "物业、厂房及设备", ASSET),
        _account("1510", "Leasehold improvements", "租赁物业装修", ASSET, "1500"),
        _account("1520", "Kitchen and store equipment", "厨房及门店设备", ASSET, "1500"),
        _account("1530", "Right-of-use assets", "使用权资产", ASSET, "1500"),
        _account("1590", "Accumulated depreciation", "累计折旧", ASSET, "1500"),
        # Liabilities
        _account("2000", "Trade payables", "应付账款", LIABILITY),
        _account("2010", "Goods received not invoiced", "暂估应付账款", LIABILITY),
        _account("2020", "Accrued expenses", "应计费用", LIABILITY),
        _account("2030", "Intercompany payables", "应付关联方款项", LIABILITY),
        _account("2040", "Staff expense claims payable", "应付员工报销款", LIABILITY),
        _account(
            "2050", "Contract liabilities (stored-value cards)", "合同负债(储值卡)", LIABILITY
        ),
        _header("2100", "VAT and other taxes", "应交税费", LIABILITY),
        _account("2110", "Output VAT", "增值税销项税额", LIABILITY, "2100"),
        _account("2120", "VAT payable", "应交增值税", LIABILITY, "2100"),
        _account("2130", "Other taxes and surcharges", "其他应交税费", LIABILITY, "2100"),
        _account("2140", "Income tax payable", "应交所得税", LIABILITY, "2100"),
        _account("2200", "Salaries payable", "应付职工薪酬", LIABILITY),
        _account("2300", "Lease liabilities", "租赁负债", LIABILITY),
        _account("2400", "Borrowings", "借款", LIABILITY),
        # Equity
        _account("3000", "Share capital", "股本", EQUITY),
        _account("3100", "Retained earnings", "留存收益", EQUITY),
        _account("3200", "Other reserves", "其他储备", EQUITY),
        # Revenue; discounts are contra-revenue, so they stay revenue with a debit balance.
        _header("4000", "Revenue", "收入", REVENUE),
        _account("4010", "Food and beverage sales", "餐饮销售收入", REVENUE, "4000"),
        _account("4020", "Discounts borne by the merchant", "商户承担折扣", REVENUE, "4000"),
        _account("4030", "Packaging fees charged", "包装费收入", REVENUE, "4000"),
        _account("4100", "Other income", "其他收入", REVENUE),
        # Costs and expenses
        _header("5000", "Cost of sales", "销售成本", EXPENSE),
        _account("5010", "Food cost", "食材成本", EXPENSE, "5000"),
        _account("5020", "Waste", "损耗", EXPENSE, "5000"),
        _account("5030", "Stock count variance", "盘点差异", EXPENSE, "5000"),
        _account("5040", "Purchase price variance", "采购价格差异", EXPENSE, "5000"),
        _header("6000", "Operating expenses", "营业费用", EXPENSE),
        _account("6010", "Staff costs", "员工成本", EXPENSE, "6000"),
        _account("6020", "Rent and occupancy", "租金及物业管理费", EXPENSE, "6000"),
        _account("6030", "Utilities", "水电燃气费", EXPENSE, "6000"),
        _account("6040", "Repairs and maintenance", "维修保养费", EXPENSE, "6000"),
        _account("6050", "Platform commission and fees", "平台佣金及费用", EXPENSE, "6000"),
        _account("6060", "Marketing", "市场推广费", EXPENSE, "6000"),
        _account("6070", "Travel", "差旅费", EXPENSE, "6000"),
        _account("6080", "Office expenses", "办公费", EXPENSE, "6000"),
        _account("6090", "Meals and entertainment", "业务招待费", EXPENSE, "6000"),
        _account("6100", "Depreciation and amortisation", "折旧及摊销", EXPENSE, "6000"),
        _account("6990", "Other operating expenses", "其他营业费用", EXPENSE, "6000"),
        # Exchange differences are expense accounts whose balance may be a gain (credit).
        _header("7000", "Finance costs and exchange differences", "财务费用及汇兑损益", EXPENSE),
        _account("7010", "Interest expense", "利息费用", EXPENSE, "7000"),
        _account("7020", "Bank and payment charges", "银行及支付手续费", EXPENSE, "7000"),
        _account("7030", "Exchange gains and losses - realised", "已实现汇兑损益", EXPENSE, "7000"),
        _account(
            "7040", "Exchange gains and losses - unrealised", "未实现汇兑损益", EXPENSE, "7000"
        ),
        _account("8000", "Income tax expense", "所得税费用", EXPENSE),
    ),
    roles={
        PostingRole.INVENTORY: "1210",
        PostingRole.GOODS_RECEIVED_NOT_INVOICED: "2010",
        PostingRole.ACCOUNTS_PAYABLE: "2000",
        PostingRole.INPUT_TAX: "1190",
        PostingRole.PURCHASE_PRICE_VARIANCE: "5040",
        PostingRole.COST_OF_SALES: "5010",
        PostingRole.WASTE: "5020",
        PostingRole.INVENTORY_VARIANCE: "5030",
        PostingRole.INTERCOMPANY_RECEIVABLE: "1160",
        PostingRole.INTERCOMPANY_PAYABLE: "2030",
        PostingRole.SALES_REVENUE: "4010",
        PostingRole.OUTPUT_TAX: "2110",
        PostingRole.SALES_DISCOUNTS: "4020",
        PostingRole.PACKAGING_FEES: "4030",
        PostingRole.PLATFORM_FEES: "6050",
        PostingRole.PLATFORM_RECEIVABLE: "1150",
        PostingRole.CASH: "1000",
        PostingRole.BANK: "1010",
        PostingRole.STAFF_PAYABLE: "2040",
        PostingRole.OPERATING_EXPENSES: "6990",
        PostingRole.FX_UNREALISED: "7040",
        PostingRole.FX_REALISED: "7030",
        PostingRole.RETAINED_EARNINGS: "3100",
    },
)

CHARTS: dict[str, ChartTemplate] = {
    template.code: template for template in (CN_SMALL_BUSINESS, IFRS)
}


def chart(code: str) -> ChartTemplate:
    """The template with this code; ValueError (not KeyError) so callers report it as bad input."""
    try:
        return CHARTS[code]
    except KeyError:
        known = ", ".join(sorted(CHARTS))
        raise ValueError(f"Unknown chart template {code!r}; expected one of: {known}.") from None


# Expense-claim category -> chart code -> the account a claim line of that category is posted to.
EXPENSE_CATEGORIES: dict[str, dict[str, str]] = {
    "travel": {"cn_small_business": "5602.01", "ifrs": "6070"},
    "office": {"cn_small_business": "5602.02", "ifrs": "6080"},
    "repairs": {"cn_small_business": "5602.03", "ifrs": "6040"},
    "utilities": {"cn_small_business": "5602.04", "ifrs": "6030"},
    "meals": {"cn_small_business": "5602.05", "ifrs": "6090"},
    "other": {"cn_small_business": "5602.99", "ifrs": "6990"},
}

EXPENSE_CATEGORY_LABELS: dict[str, Promise] = {
    "travel": _("Travel"),
    "office": _("Office expenses"),
    "repairs": _("Repairs and maintenance"),
    "utilities": _("Utilities"),
    "meals": _("Meals and entertainment"),
    "other": _("Other"),
}

# Where each postable account of a primary chart lands in a secondary book of another chart
# (a local-GAAP primary book mirrored into an IFRS book). Accounts added to the primary book
# later are mapped by finance; until then, their postings wait (docs/finance.md).
ACCOUNT_MAPS: dict[tuple[str, str], dict[str, str]] = {
    ("cn_small_business", "ifrs"): {
        "1001": "1000",
        "1002": "1010",
        "1012": "1020",
        "1122.01": "1150",
        "1122.02": "1100",
        "1123": "1170",
        "1221.01": "1160",
        "1221.02": "1170",
        "1221.03": "1180",
        "1403": "1210",
        "1405": "1230",
        "1411": "1220",
        "1601": "1520",
        "1602": "1590",
        "1801": "1510",
        "2001": "2400",
        "2202.01": "2010",
        "2202.02": "2000",
        "2203": "2050",
        "2211": "2200",
        "2221.01": "1190",  # input VAT: a recoverable asset under IFRS presentation
        "2221.02": "2110",
        "2221.03": "2120",
        "2221.04": "2130",
        "2221.05": "2130",
        "2221.06": "2140",
        "2221.07": "2130",
        "2241.01": "2030",
        "2241.02": "2040",
        "2501": "2400",
        "3001": "3000",
        "3101": "3200",
        "3103": "3100",
        "3104.01": "3100",
        "3104.02": "3200",
        "5001.01": "4020",
        "5001.02": "4010",
        "5051": "4030",
        "5301": "4100",
        "5401.01": "5010",
        "5401.02": "5020",
        "5401.03": "5030",
        "5401.04": "5040",
        "5403": "6990",
        "5601.01": "6050",
        "5601.02": "6060",
        "5601.03": "6010",
        "5601.04": "6020",
        "5602.01": "6070",
        "5602.02": "6080",
        "5602.03": "6040",
        "5602.04": "6030",
        "5602.05": "6090",
        "5602.06": "6010",
        "5602.07": "6100",
        "5602.99": "6990",
        "5603.01": "7030",
        "5603.02": "7040",
        "5603.03": "7010",
        "5603.04": "7020",
        "5711": "6990",
        "5801": "8000",
    },
}
