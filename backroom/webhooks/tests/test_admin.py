from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from backroom.webhooks.models import WebhookDelivery
from backroom.webhooks.tests.helpers import make_endpoint, touch_site


def test_admin_is_read_only_and_never_shows_secrets(deliver, tree, receiver):
    issued = make_endpoint(tree.store_a, receiver.url)
    issued_endpoint = issued.endpoint
    touch_site(tree.store_a)
    deliver()
    delivery = WebhookDelivery.objects.get(endpoint=issued_endpoint)
    admin_user = get_user_model().objects.create_superuser("root", password="x-Long-password-1")
    client = Client()
    client.force_login(admin_user)

    changelist = client.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    assert changelist.status_code == 200
    assert "Hook at SHA001" in changelist.content.decode()
    detail = client.get(reverse("admin:webhooks_webhookendpoint_change", args=[issued_endpoint.pk]))
    assert detail.status_code == 200
    assert issued.secret not in detail.content.decode()
    assert client.get(reverse("admin:webhooks_webhookendpoint_add")).status_code == 403
    assert (
        client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).status_code
        == 200
    )
    response = client.post(
        reverse("admin:webhooks_webhookendpoint_delete", args=[issued_endpoint.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    issued_endpoint.refresh_from_db()
