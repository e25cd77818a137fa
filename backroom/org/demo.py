"""Demo seed for the org tree: one group, two legal entities, three regions, twelve stores.

Called by `backroom.config.demo.seed_demo`; everything goes through the org services.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from backroom.kernel.actors import SYSTEM
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode
from backroom.org.services import (
    EntityDetails,
    NodeInput,
    SiteDetails,
    create_brand,
    create_node,
)

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext

SHANGHAI = "Asia/Shanghai"
HONG_KONG = "Asia/Hong_Kong"
BRAND = "NOODLE"


@dataclass(frozen=True)
class DemoSite:
    kind: str
    code: str
    name: str
    region: str
    city: str
    address: str
    latitude: str
    longitude: str
    time_zone: str = SHANGHAI
    is_branded: bool = True


SITES = [
    # East China
    DemoSite(
        NodeKind.STORE,
        "SH001",
        "人民广场店 People's Square",
        "EAST",
        "Shanghai",
        "上海市黄浦区南京东路 300 号 / 300 East Nanjing Road, Huangpu",
        "31.234930",
        "121.475780",
    ),
    DemoSite(
        NodeKind.STORE,
        "SH002",
        "静安寺店 Jing'an Temple",
        "EAST",
        "Shanghai",
        "上海市静安区南京西路 1618 号 / 1618 West Nanjing Road, Jing'an",
        "31.223670",
        "121.445710",
    ),
    DemoSite(
        NodeKind.STORE,
        "SH003",
        "陆家嘴店 Lujiazui",
        "EAST",
        "Shanghai",
        "上海市浦东新区陆家嘴环路 1000 号 / 1000 Lujiazui Ring Road, Pudong",
        "31.238760",
        "121.501670",
    ),
    DemoSite(
        NodeKind.STORE,
        "HZ001",
        "湖滨店 Hubin",
        "EAST",
        "Hangzhou",
        "杭州市上城区延安路 258 号 / 258 Yan'an Road, Shangcheng",
        "30.257590",
        "120.164970",
    ),
    DemoSite(
        NodeKind.STORE,
        "NJ001",
        "新街口店 Xinjiekou",
        "EAST",
        "Nanjing",
        "南京市秦淮区中山南路 1 号 / 1 South Zhongshan Road, Qinhuai",
        "32.041590",
        "118.784210",
    ),
    DemoSite(
        NodeKind.STORE,
        "SZ001",
        "观前街店 Guanqian Street",
        "EAST",
        "Suzhou",
        "苏州市姑苏区观前街 88 号 / 88 Guanqian Street, Gusu",
        "31.310820",
        "120.624130",
    ),
    # North China
    DemoSite(
        NodeKind.STORE,
        "BJ001",
        "王府井店 Wangfujing",
        "NORTH",
        "Beijing",
        "北京市东城区王府井大街 138 号 / 138 Wangfujing Street, Dongcheng",
        "39.913990",
        "116.410970",
    ),
    DemoSite(
        NodeKind.STORE,
        "BJ002",
        "三里屯店 Sanlitun",
        "NORTH",
        "Beijing",
        "北京市朝阳区三里屯路 19 号 / 19 Sanlitun Road, Chaoyang",
        "39.934840",
        "116.454980",
    ),
    DemoSite(
        NodeKind.STORE,
        "TJ001",
        "滨江道店 Binjiang Road",
        "NORTH",
        "Tianjin",
        "天津市和平区滨江道 208 号 / 208 Binjiang Road, Heping",
        "39.122540",
        "117.200760",
    ),
    DemoSite(
        NodeKind.STORE,
        "QD001",
        "台东店 Taidong",
        "NORTH",
        "Qingdao",
        "青岛市市北区台东三路 71 号 / 71 Taidong 3rd Road, Shibei",
        "36.086540",
        "120.356120",
    ),
    # Hong Kong
    DemoSite(
        NodeKind.STORE,
        "HK001",
        "旺角店 Mong Kok",
        "HK",
        "Hong Kong",
        "九龍旺角彌敦道 688 號 / 688 Nathan Road, Mong Kok, Kowloon",
        "22.319300",
        "114.169400",
        time_zone=HONG_KONG,
    ),
    DemoSite(
        NodeKind.STORE,
        "HK002",
        "铜锣湾店 Causeway Bay",
        "HK",
        "Hong Kong",
        "香港銅鑼灣軒尼詩道 500 號 / 500 Hennessy Road, Causeway Bay",
        "22.280060",
        "114.183200",
        time_zone=HONG_KONG,
    ),
    # Supply for the East China stores
    DemoSite(
        NodeKind.WAREHOUSE,
        "WH-SH",
        "上海嘉定仓 Shanghai Warehouse",
        "EAST",
        "Shanghai",
        "上海市嘉定区嘉松北路 6000 号 / 6000 North Jiasong Road, Jiading",
        "31.383340",
        "121.250390",
        is_branded=False,
    ),
    DemoSite(
        NodeKind.KITCHEN,
        "CK-SH",
        "上海中央厨房 Shanghai Central Kitchen",
        "EAST",
        "Shanghai",
        "上海市闵行区莘庄工业区春东路 508 号 / 508 Chundong Road, Minhang",
        "31.084020",
        "121.370560",
        is_branded=False,
    ),
]


def _node(
    ctx: DemoContext, kind: str, code: str, name: str, parent: str | None, **details: Any
) -> OrgNode:
    parent_id = ctx.nodes[parent].pk if parent else None
    node = create_node(
        NodeInput(kind=kind, code=code, name=name, parent_id=parent_id), actor=SYSTEM, **details
    )
    ctx.nodes[code] = node
    return node


def seed(ctx: DemoContext) -> None:
    """The demo tree: group → entities → regions → sites, with the NOODLE brand on every store."""
    create_brand(BRAND, "面馆 Noodle House", actor=SYSTEM)
    _node(ctx, NodeKind.GROUP, "GRP", "Backroom Demo Group", None)
    _node(
        ctx,
        NodeKind.ENTITY,
        "CN-SH",
        "上海后厨餐饮管理有限公司",
        "GRP",
        entity=EntityDetails(base_currency="CNY", country="CN", tax_id="91310101MA1FP0DEMO"),
    )
    _node(
        ctx,
        NodeKind.ENTITY,
        "HK-01",
        "Backroom Hong Kong Ltd",
        "GRP",
        entity=EntityDetails(base_currency="HKD", country="HK", tax_id="70000001"),
    )
    _node(ctx, NodeKind.REGION, "EAST", "华东 East China", "CN-SH")
    _node(ctx, NodeKind.REGION, "NORTH", "华北 North China", "CN-SH")
    _node(ctx, NodeKind.REGION, "HK", "香港 Hong Kong", "HK-01")
    first_opening = dt.date(2016, 3, 1)
    for site in SITES:
        _node(
            ctx,
            site.kind,
            site.code,
            site.name,
            site.region,
            site=SiteDetails(
                time_zone=site.time_zone,
                cutoff_hour=4,
                address=site.address,
                city=site.city,
                latitude=Decimal(site.latitude),
                longitude=Decimal(site.longitude),
                opening_date=first_opening + dt.timedelta(days=ctx.random.randrange(0, 3000)),
                brand_code=BRAND if site.is_branded else None,
            ),
        )
