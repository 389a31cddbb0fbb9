"""Personal discount codes: one Shopify code discount per restock (or apology), one code per shopper.

``ensure_discount`` creates the restock's discount once (``discountCodeBasicCreate``: percentage
off the variant's product, open to every buyer through ``context``, each code usable once and
once per customer, ending at the expiry). ``add_codes`` then adds one unguessable code per
notice with ``discountRedeemCodeBulkAdd`` in chunks of at most 250 and polls each bulk creation
(``discountRedeemCodeBulkCreation``) until Shopify says it is done: a code goes into a notice only
once Shopify has it. Failures are retried (``with_retries``); after the last try the caller
sends the notices without codes and says why in the decision log.

No database transaction is open during a Shopify call: rows are read, the call is made, and the
result is written in a new short transaction.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.db import insert_for
from plugin.logging import get_logger
from plugin.models import OFFER_ACTIVE, OFFER_FAILED, OFFER_PENDING, Discount
from plugin.offers.shopify_calls import OfferFailed, ShopifyOffers, with_retries
from plugin.shopify.gids import gid

log = get_logger(__name__)

# No 0/O or 1/I: codes are read off a phone screen and typed.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12  # 60 random bits: not guessable, not enumerable
BULK_LIMIT = 250  # Shopify's maximum codes per discountRedeemCodeBulkAdd
POLL_DELAYS = (0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 5.0, 5.0)  # about 22 s in all
CREATION_LEASE = timedelta(minutes=1)


def new_code(prefix: str = "BELL") -> str:
    return f"{prefix}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True)
class DiscountSpec:
    """What a discount is for: the restock event or the cancelled order, the products, the offer."""

    shop_id: int
    kind: str  # restock | apology
    product_ids: tuple[int, ...]
    percent: int
    ends_at: datetime
    title: str
    restock_event_id: int | None = None
    order_id: int | None = None
    code: str | None = None  # the discount's own code (an apology's personal code); else a random one


def ensure_discount(db, shopify: ShopifyOffers, spec: DiscountSpec,
                    sleep: Callable[[float], None] = time.sleep) -> Discount:
    """The spec's active discount, created in Shopify if it is not yet; raises ``OfferFailed``.

    Two send chains of one restock (email and SMS) may get here at once: the row's lease lets one
    create the discount while the other waits for it.
    """
    row_id = _discount_row(db, spec)
    for delay in (0,) + POLL_DELAYS * 3:
        sleep(delay)
        with db.session() as session:
            discount = session.get(Discount, row_id)
            if discount.status == OFFER_ACTIVE:
                session.expunge(discount)
                return discount
            if discount.status == OFFER_FAILED:
                raise OfferFailed(discount.error or "the discount could not be created")
            if _take_lease(session, row_id):
                break
    else:
        raise OfferFailed("another worker is still creating the discount")
    return _create(db, shopify, spec, row_id)


def _discount_row(db, spec: DiscountSpec) -> int:
    with db.session() as session:
        key = (Discount.restock_event_id == spec.restock_event_id if spec.restock_event_id is not None
               else Discount.order_id == spec.order_id)
        session.execute(insert_for(session)(Discount).values(
            shop_id=spec.shop_id, restock_event_id=spec.restock_event_id, order_id=spec.order_id, kind=spec.kind,
            product_ids=list(spec.product_ids), percent=spec.percent, ends_at=spec.ends_at, status=OFFER_PENDING,
            created_at=utcnow()).on_conflict_do_nothing())
        return session.scalar(select(Discount.id).where(Discount.shop_id == spec.shop_id, key))


def _take_lease(session: Session, row_id: int) -> bool:
    now = utcnow()
    taken = session.execute(
        update(Discount).where(Discount.id == row_id, Discount.status == OFFER_PENDING,
                               or_(Discount.lease_until.is_(None), Discount.lease_until <= now))
        .values(lease_until=now + CREATION_LEASE)).rowcount
    return bool(taken)


def _create(db, shopify: ShopifyOffers, spec: DiscountSpec, row_id: int) -> Discount:
    first_code = spec.code or new_code()
    variables = {"discount": {
        "title": spec.title[:255], "code": first_code, "startsAt": _iso(utcnow()), "endsAt": _iso(spec.ends_at),
        # Shopify counts usageLimit per code when a discount has many codes: each code works once.
        "usageLimit": 1, "appliesOncePerCustomer": True, "context": {"all": "ALL"},
        "combinesWith": {"orderDiscounts": False, "productDiscounts": False, "shippingDiscounts": True},
        "customerGets": {"value": {"percentage": spec.percent / 100},
                         "items": {"products": {"productsToAdd": [gid("Product", p) for p in spec.product_ids]}}},
    }}
    try:
        data = with_retries(lambda: shopify.mutate("DiscountCodeBasicCreate", variables, "discountCodeBasicCreate"))
    except OfferFailed as err:
        with db.session() as session:
            session.execute(update(Discount).where(Discount.id == row_id)
                            .values(status=OFFER_FAILED, error=str(err)[:300], lease_until=None))
        raise
    with db.session() as session:
        discount = session.get(Discount, row_id)
        discount.shopify_id, discount.status, discount.lease_until = data["codeDiscountNode"]["id"], OFFER_ACTIVE, None
        session.flush()
        session.expunge(discount)
    log.info("discount_created", shop_id=spec.shop_id, discount_id=row_id, kind=spec.kind)
    return discount


def add_codes(shopify: ShopifyOffers, discount: Discount, count: int,
              sleep: Callable[[float], None] = time.sleep) -> tuple[list[str], str | None]:
    """``count`` new codes that Shopify has added to ``discount``, and why any are missing (or None)."""
    codes = [new_code() for _ in range(count)]
    added, problem = [], None
    for start in range(0, len(codes), BULK_LIMIT):
        chunk = codes[start:start + BULK_LIMIT]
        try:
            added += _add_chunk(shopify, discount, chunk, sleep)
        except OfferFailed as err:
            problem = str(err)
    if problem is None and len(added) < len(codes):
        problem = f"Shopify refused {len(codes) - len(added)} of {len(codes)} codes"
    return added, problem


def _add_chunk(shopify: ShopifyOffers, discount: Discount, chunk: list[str], sleep) -> list[str]:
    variables = {"discountId": discount.shopify_id, "codes": [{"code": code} for code in chunk]}
    data = with_retries(lambda: shopify.mutate("DiscountRedeemCodeBulkAdd", variables, "discountRedeemCodeBulkAdd"))
    bulk_id = data["bulkCreation"]["id"]
    for delay in POLL_DELAYS:
        sleep(delay)
        bulk = with_retries(lambda: shopify.query("DiscountRedeemCodeBulkCreation", {"id": bulk_id}))
        bulk = bulk.get("discountRedeemCodeBulkCreation") or {}
        if bulk.get("done"):
            failed = {node["code"] for node in (bulk.get("codes") or {}).get("nodes") or [] if node.get("errors")}
            return [code for code in chunk if code not in failed]
    raise OfferFailed(f"Shopify had not finished adding the codes after {sum(POLL_DELAYS):.0f} s")


def deactivate_expired(db, shopify_for: Callable[[int], ShopifyOffers], limit: int = 100) -> int:
    """Deactivate discounts past their end (the beat's offers sweep); how many were deactivated."""
    with db.session() as session:
        due = session.execute(select(Discount.id, Discount.shop_id, Discount.shopify_id).where(
            Discount.status == OFFER_ACTIVE, Discount.ends_at <= utcnow()).order_by(Discount.ends_at).limit(limit)).all()
    done = 0
    for row_id, shop_id, shopify_id in due:
        try:
            with_retries(lambda: shopify_for(shop_id).mutate(
                "DiscountCodeDeactivate", {"id": shopify_id}, "discountCodeDeactivate"))
        except OfferFailed as err:
            log.warning("discount_deactivate_failed", discount_id=row_id, error=str(err))
            continue
        with db.session() as session:
            session.execute(update(Discount).where(Discount.id == row_id)
                            .values(status="deactivated", deactivated_at=utcnow()))
        done += 1
    return done


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")
