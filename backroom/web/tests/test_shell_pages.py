import pytest
from django.urls import reverse

from backroom.testing.factories import PASSWORD, client_for, make_user

PAGES = [
    ("web:home", {}),
    ("web:org_tree", {}),
    ("web:node_create", {}),
    ("web:site_detail", {"site_id": 1}),
    ("web:users", {}),
    ("web:user_create", {}),
    ("web:user_detail", {"user_id": 1}),
    ("web:roles", {}),
    ("web:audit", {}),
    ("web:audit_detail", {"entry_id": 1}),
    ("web:tokens", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_anonymous_is_sent_to_sign_in(db, name, kwargs):
    url = reverse(name, kwargs=kwargs)
    response = client_for(None).get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('web:login')}?next={url}"


def test_sign_in_with_a_wrong_password_shows_the_error_and_signs_nobody_in(tree):
    make_user("store_manager", tree.store_a, username="ming")
    client = client_for(None)
    response = client.post(reverse("web:login"), {"username": "ming", "password": "wrong"})
    assert response.status_code == 200
    assert "Wrong username or password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_in_goes_to_next_and_sign_out_ends_the_session(tree):
    make_user("store_manager", tree.store_a, username="ming")
    client = client_for(None)
    response = client.post(
        reverse("web:login"), {"username": "ming", "password": PASSWORD, "next": "/org/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/org/"
    assert client.get(reverse("web:logout")).status_code == 405
    response = client.post(reverse("web:logout"))
    assert response["Location"] == reverse("web:login")
    assert "_auth_user_id" not in client.session


def test_sign_in_refuses_an_outside_next(tree):
    make_user("store_manager", tree.store_a, username="ming")
    response = client_for(None).post(
        reverse("web:login"),
        {"username": "ming", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("web:home")


def test_hq_home_shows_the_chain_grouped_by_region(tree, django_assert_max_num_queries):
    admin = make_user("hq_admin", tree.group)
    client = client_for(admin)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("web:home"))
    assert response.status_code == 200
    context = response.context
    assert context["is_chain_view"] is True
    assert context["stores_open"] == 3
    assert context["user_count"] == 1
    assert [(g.parent_code, [s.node.code for s in g.sites]) for g in context["store_groups"]] == [
        ("EAST", ["SHA001", "SHA002"]),
        ("HK-CO", ["HKG001"]),
    ]
    assert response.content.decode().count('data-testid="store-row"') == 3


def test_store_home_shows_its_clock_and_no_other_store(tree):
    manager = make_user("store_manager", tree.store_a)
    response = client_for(manager).get(reverse("web:home"))
    assert response.status_code == 200
    assert response.context["is_chain_view"] is False
    [clock] = response.context["clocks"]
    assert clock.site.node.code == "SHA001"
    assert clock.cutoff == "04:00"
    body = response.content.decode()
    assert "Today's business date" in body
    assert "SHA002" not in body
    assert 'href="/audit/"' not in body


def test_home_in_chinese(tree):
    manager = make_user("store_manager", tree.store_a)
    client = client_for(manager)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    body = client.get(reverse("web:home")).content.decode()
    assert "今天的营业日" in body
    assert '<html lang="zh-hans">' in body


def test_sign_in_switches_to_the_users_language(tree):
    from backroom.accounts import services as accounts_services
    from backroom.kernel.actors import SYSTEM

    accounts_services.create_user(
        accounts_services.UserInput(username="wang", password=PASSWORD, language="zh-hans"),
        actor=SYSTEM,
    )
    client = client_for(None)
    client.post(reverse("web:login"), {"username": "wang", "password": PASSWORD})
    assert client.cookies["django_language"].value == "zh-hans"
    assert "首页" in client.get(reverse("web:home")).content.decode()
