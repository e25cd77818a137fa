from django.db import models
from django.utils.translation import gettext_lazy as _


class NodeKind(models.TextChoices):
    GROUP = "group", _("Group")
    ENTITY = "entity", _("Legal entity")
    REGION = "region", _("Region")
    STORE = "store", _("Store")
    WAREHOUSE = "warehouse", _("Warehouse")
    KITCHEN = "kitchen", _("Central kitchen")


SITE_KINDS = {NodeKind.STORE, NodeKind.WAREHOUSE, NodeKind.KITCHEN}

# Which kinds may hang under which: sites under an entity or a region, regions may nest.
ALLOWED_PARENTS: dict[str, set[str]] = {
    NodeKind.GROUP: set(),
    NodeKind.ENTITY: {NodeKind.GROUP},
    NodeKind.REGION: {NodeKind.ENTITY, NodeKind.REGION},
    NodeKind.STORE: {NodeKind.ENTITY, NodeKind.REGION},
    NodeKind.WAREHOUSE: {NodeKind.ENTITY, NodeKind.REGION},
    NodeKind.KITCHEN: {NodeKind.ENTITY, NodeKind.REGION},
}


class SiteStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
