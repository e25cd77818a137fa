"""The org tree: group → legal entities → regions → stores, warehouses and central kitchens.

Every scoped row in Backroom hangs off a node; a role held at a node covers its subtree through
the materialised `path` ("/0000000001/0000000004/"). Brands are a dimension on sites, not a tree level (one brand
spans entities and regions; see docs/decisions/0002-org-tree.md).
"""

from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from backroom.kernel.models import TimestampedModel
from backroom.kernel.scoping import OrgScopedQuerySet
from backroom.org.choices import NodeKind, SiteStatus

# Each id in a path is zero-padded to this many digits ("/0000000001/0000000004/").
PATH_DIGITS = 10
PATH_LENGTH = 255  # the longest path: 23 levels of "/0000000001"

code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{0,19}$", _("Use 1–20 capital letters, digits or hyphens.")
)


class OrgNode(TimestampedModel):
    """A node of the org tree. `path` lists the ids from the root, so a subtree is a prefix."""

    scope_field = ""

    kind = models.CharField(_("kind"), max_length=16, choices=NodeKind.choices)
    code = models.CharField(_("code"), max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=PATH_LENGTH, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    is_active = models.BooleanField(_("active"), default=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        verbose_name = _("org node")
        verbose_name_plural = _("org nodes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(parent__isnull=True, kind=NodeKind.GROUP)
                | models.Q(parent__isnull=False) & ~models.Q(kind=NodeKind.GROUP),
                name="org_node_only_group_is_root",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def is_within(self, other: "OrgNode") -> bool:
        return self.path.startswith(other.path)


class LegalEntity(TimestampedModel):
    """A company that keeps books: base currency, country, tax id."""

    scope_field = "node"

    node = models.OneToOneField(OrgNode, on_delete=models.PROTECT, related_name="legal_entity")
    base_currency = models.CharField(_("base currency"), max_length=3)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2"))
    tax_id = models.CharField(_("tax id"), max_length=40, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("legal entity")
        verbose_name_plural = _("legal entities")

    def __str__(self) -> str:
        return self.node.name


class Brand(TimestampedModel):
    """A trading brand; sites carry it as a dimension."""

    code = models.CharField(_("code"), max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        ordering = ["code"]
        verbose_name = _("brand")
        verbose_name_plural = _("brands")

    def __str__(self) -> str:
        return self.name


class Site(TimestampedModel):
    """A store, warehouse or central kitchen: a place with a clock, an address and stock."""

    scope_field = "node"

    node = models.OneToOneField(OrgNode, on_delete=models.PROTECT, related_name="site")
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="sites")
    brand = models.ForeignKey(
        Brand, null=True, blank=True, on_delete=models.PROTECT, related_name="sites"
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    cutoff_hour = models.PositiveSmallIntegerField(
        _("business-day cut-off hour"), default=4, validators=[MaxValueValidator(23)]
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    opening_date = models.DateField(_("opening date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=SiteStatus.choices, default=SiteStatus.OPEN
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cutoff_hour__lte=23), name="org_site_cutoff_hour_range"
            ),
            models.CheckConstraint(
                condition=models.Q(latitude__isnull=True)
                | models.Q(latitude__gte=-90, latitude__lte=90),
                name="org_site_latitude_range",
            ),
            models.CheckConstraint(
                condition=models.Q(longitude__isnull=True)
                | models.Q(longitude__gte=-180, longitude__lte=180),
                name="org_site_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return self.node.name

    @property
    def code(self) -> str:
        return self.node.code

    @property
    def kind(self) -> str:
        return self.node.kind
