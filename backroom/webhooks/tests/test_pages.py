"""The webhook pages: scoping, shown-once secrets, all form errors at once, manage buttons."""

from django.urls import reverse

from backroom.audit.models import AuditEntry
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix
from backroom.webhooks.models import WebhookDelivery, WebhookEndpoint
from backroom.webhooks.tests.helpers import make_endpoint, touch_site


def _endpoints():
    return WebhookEndpoint.objects.order_by("id").values_list("name", "url", "secret")


def test_list_page_shows_endpoints_in_scope_and_create_button_only_to_managers(tree):
    mine = make_endpoint(tree.store_a).endpoint
    make_endpoint(tree.store_b)
    engineer = make_user("integration", tree.store_a)
    result = assert_matrix(
        "GET",
        reverse("webhooks:endpoints"),
        allowed=engineer,
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=None,
    )
    html = result.allowed.content.decode()
    assert html.count('data-testid="endpoint-row"') == 1
    assert reverse("webhooks:endpoint_detail", args=[mine.pk]) in html
    assert 'data-testid="new-endpoint"' in html
    assert 'data-state="closed"' in html
    viewer_html = client_for(make_user("hq_operations", tree.group)).get(
        reverse("webhooks:endpoints")
    )
    assert viewer_html.status_code == 200
    assert viewer_html.content.decode().count('data-testid="endpoint-row"') == 2
    assert 'data-testid="new-endpoint"' not in viewer_html.content.decode()


def test_create_page_shows_every_error_at_once_and_creates_nothing(tree):
    engineer = make_user("integration", tree.store_a)
    client = client_for(engineer)
    page = client.get(reverse("webhooks:endpoint_create"))
    assert page.status_code == 200
    assert f'value="{tree.store_a.pk}"' in page.content.decode()
    assert f'value="{tree.store_b.pk}"' not in page.content.decode()
    before = list(_endpoints())
    response = client.post(
        reverse("webhooks:endpoint_create"),
        {"node": "", "name": "", "url": "ftp://x", "is_active": "on"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    for field in ("node", "name", "url", "event_types"):
        assert f'data-field="{field}"' in html, field
    assert list(_endpoints()) == before


def test_create_page_creates_and_shows_the_secret_once(tree):
    engineer = make_user("integration", tree.store_a)
    client = client_for(engineer)
    response = client.post(
        reverse("webhooks:endpoint_create"),
        {
            "node": str(tree.store_a.pk),
            "name": "Till bridge",
            "url": "https://till.example.com/in",
            "event_types": ["org.node.updated", "org.node.created"],
            "description": "POS",
            "is_active": "on",
        },
    )
    endpoint = WebhookEndpoint.objects.get(name="Till bridge")
    assert response.status_code == 302
    assert response["Location"] == reverse("webhooks:endpoint_detail", args=[endpoint.pk])
    assert endpoint.node_id == tree.store_a.pk
    assert endpoint.event_types == ["org.node.created", "org.node.updated"]
    AuditEntry.objects.get(action="webhooks.endpoint.create", actor=engineer)
    first = client.get(response["Location"]).content.decode()
    assert endpoint.secret in first
    assert 'data-testid="new-secret"' in first
    second = client.get(response["Location"]).content.decode()
    assert endpoint.secret not in second


def test_detail_page_matrix_and_manage_buttons(deliver, tree, receiver):
    endpoint = make_endpoint(tree.store_a, receiver.url).endpoint
    touch_site(tree.store_a)
    deliver()
    url = reverse("webhooks:endpoint_detail", args=[endpoint.pk])
    result = assert_matrix(
        "GET",
        url,
        allowed=make_user("integration", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("integration", tree.store_b),
    )
    html = result.allowed.content.decode()
    assert 'data-testid="manage-actions"' in html
    assert html.count('data-testid="delivery-row"') == 1
    assert 'data-testid="replay"' in html
    assert endpoint.secret not in html
    viewer = client_for(make_user("hq_operations", tree.group)).get(url).content.decode()
    assert 'data-testid="manage-actions"' not in viewer
    assert 'data-testid="replay"' not in viewer
    assert 'data-testid="delivery-row"' in viewer


def test_deliveries_partial_for_htmx(deliver, tree, receiver):
    endpoint = make_endpoint(tree.store_a, receiver.url).endpoint
    touch_site(tree.store_a)
    deliver()
    response = client_for(make_user("integration", tree.store_a)).get(
        reverse("webhooks:endpoint_detail", args=[endpoint.pk]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert 'id="deliveries"' in html
    assert "<html" not in html
    assert 'data-testid="endpoint-card"' not in html


def test_edit_page_saves_and_refuses_viewers(tree):
    endpoint = make_endpoint(tree.store_a).endpoint
    url = reverse("webhooks:endpoint_edit", args=[endpoint.pk])
    engineer = make_user("integration", tree.store_a)
    assert_matrix(
        "POST",
        url,
        payload={"name": "Renamed", "url": "https://new.example.com/", "event_types": ["*"]},
        allowed=None,
        forbidden=make_user("hq_operations", tree.group),
        other_scope=make_user("integration", tree.store_b),
        snapshot=_endpoints,
    )
    client = client_for(engineer)
    assert client.get(url).status_code == 200
    invalid = client.post(url, {"name": "", "url": "nope", "is_active": "on"})
    assert invalid.status_code == 422
    for field in ("name", "url", "event_types"):
        assert f'data-field="{field}"' in invalid.content.decode(), field
    response = client.post(
        url, {"name": "Renamed", "url": "https://new.example.com/", "event_types": ["*"]}
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.url, endpoint.event_types, endpoint.is_active) == (
        "Renamed",
        "https://new.example.com/",
        ["*"],
        False,  # the unchecked switch deactivates
    )
    AuditEntry.objects.get(action="webhooks.endpoint.update", actor=engineer)
    AuditEntry.objects.get(action="webhooks.endpoint.deactivate", actor=engineer)


def test_rotate_secret_page_shows_the_new_secret_once(tree):
    issued = make_endpoint(tree.store_a)
    url = reverse("webhooks:rotate_secret", args=[issued.endpoint.pk])
    engineer = make_user("integration", tree.store_a)
    result = assert_matrix(
        "POST",
        url,
        allowed=engineer,
        forbidden=make_user("hq_operations", tree.group),
        other_scope=make_user("integration", tree.store_b),
        expect_allowed=302,
        snapshot=_endpoints,
    )
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert endpoint.secret != issued.secret
    client = client_for(engineer)
    assert client.get(url).status_code == 405
    # The session that rotated sees the secret once on the detail page.
    detail = client_for(engineer)
    detail.post(url)
    endpoint.refresh_from_db()
    html = detail.get(result.allowed["Location"]).content.decode()
    assert endpoint.secret in html
    assert 'data-testid="previous-secret"' in html
    assert endpoint.secret not in detail.get(result.allowed["Location"]).content.decode()


def test_delivery_page_shows_attempts_and_body(deliver, tree, receiver):
    endpoint = make_endpoint(tree.store_a, receiver.url).endpoint
    receiver.respond_with(500, 200)
    event = touch_site(tree.store_a)
    deliver()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    result = assert_matrix(
        "GET",
        reverse("webhooks:delivery_detail", args=[delivery.pk]),
        allowed=make_user("integration", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("integration", tree.store_b),
    )
    html = result.allowed.content.decode()
    assert str(event.event_id) in html
    assert html.count('data-testid="attempt-row"') == 1
    assert "HTTP 500 Internal Server Error" in html
    assert "org.node.updated" in html


def test_list_and_detail_pages_do_not_query_per_row(
    deliver, tree, receiver, django_assert_max_num_queries
):
    endpoint = make_endpoint(tree.store_a, receiver.url).endpoint
    for _ in range(6):
        make_endpoint(tree.store_a)
    for _ in range(6):
        touch_site(tree.store_a)
    deliver()
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 6
    client = client_for(make_user("integration", tree.store_a))
    client.get(reverse("webhooks:endpoints"))  # warm the session
    with django_assert_max_num_queries(12):
        assert client.get(reverse("webhooks:endpoints")).status_code == 200
    with django_assert_max_num_queries(14):
        assert (
            client.get(reverse("webhooks:endpoint_detail", args=[endpoint.pk])).status_code == 200
        )
