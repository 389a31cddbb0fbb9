from sqlalchemy import func, select, text

from plugin.models import Contact, Subscription, Variant
from tests.doubles.app_proxy import sign_proxy_query, proxy_params
from tests.intake.conftest import SECRET

VARIANT = 44012345678901


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_new_subscription_is_201_and_repeat_is_200_with_one_row(post_subscription, session):
    # given
    body = {"variant_id": VARIANT, "email": "jane@shopper.dev"}

    # when
    first = post_subscription(body)
    second = post_subscription(body)

    # then
    assert (first.status_code, first.get_json()) == (201, {"status": "subscribed"})
    assert (second.status_code, second.get_json()) == (200, {"status": "already_subscribed"})
    rows = session.scalars(select(Subscription)).all()
    assert [(r.variant_id, r.channel, r.status, r.locale) for r in rows] == [(VARIANT, "email", "waiting", "en")]
    assert _count(session, Contact) == 1


def test_gid_and_int_ids_are_the_same_variant(post_subscription, session):
    first = post_subscription({"variant_id": f"gid://shopify/ProductVariant/{VARIANT}", "email": "a@shopper.dev"})
    second = post_subscription({"variant_id": VARIANT, "email": "a@shopper.dev"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert session.scalars(select(Subscription.variant_id)).all() == [VARIANT]


def test_case_variants_of_an_address_are_one_contact(post_subscription, session):
    first = post_subscription({"variant_id": VARIANT, "email": "Jane.Doe@Shopper.DEV"})
    second = post_subscription({"variant_id": VARIANT, "email": " jane.doe@shopper.dev "})

    assert (first.status_code, second.status_code) == (201, 200)
    assert _count(session, Contact) == 1


def test_contact_is_never_stored_in_plaintext(post_subscription, session, runtime):
    # given
    address = "secret.shopper@shopper.dev"

    # when
    post_subscription({"variant_id": VARIANT, "email": address})

    # then no column of any contact or subscription row holds the address
    for table in ("contacts", "subscriptions"):
        for row in session.execute(text(f"SELECT * FROM {table}")).all():
            assert all(address not in str(value) and "secret.shopper" not in str(value) for value in row), table
    contact = session.scalars(select(Contact)).one()
    assert runtime.vault.decrypt(contact.value_ciphertext) == address
