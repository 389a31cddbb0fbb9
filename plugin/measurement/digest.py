"""The merchant digest: a daily or weekly email to the shop's contact address (``Shop.contactEmail``,
read at install) with the most wanted variants, the waitlists that crossed the shop's threshold
since the last digest, and the low-stock warning — variants in stock with fewer units than
shoppers waiting, so the restock will not serve them all.

Everything comes from the counters and the variant mirror; it goes out through the email channel
(SendGrid, or the outbox on the embedded default) as kind ``digest``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.dispatch.channels import channel_for
from plugin.dispatch.channels.base import OutgoingMessage
from plugin.logging import get_logger
from plugin.measurement.aggregates import shop_day
from plugin.models import Shop, Variant, VariantDay, VariantTotal
from plugin.shop_settings import settings_for

log = get_logger(__name__)

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
# The beat runs hourly: a digest due a few minutes after the last run should not slip a whole hour.
SLACK = timedelta(minutes=10)
TOP = 5


@dataclass(frozen=True)
class Line:
    variant_id: int
    name: str
    waiting: int
    stock: int | None


@dataclass
class Digest:
    shop: str
    period: str
    waiting: int = 0
    most_wanted: list[Line] = field(default_factory=list)
    crossed: list[Line] = field(default_factory=list)
    low_stock: list[Line] = field(default_factory=list)


def is_due(shop: Shop, now: datetime) -> bool:
    period = settings_for(shop).digest
    if not shop.active or period is None or not shop.contact_email:
        return False
    return shop.digest_sent_at is None or now - shop.digest_sent_at >= PERIODS[period] - SLACK


def build_digest(session: Session, shop: Shop, now: datetime) -> Digest:
    settings = settings_for(shop)
    # Counters are per day: after a digest, growth counts from the next day on (a crossing on the
    # day of the last digest shows in the one after only if the day after adds to it); the first
    # digest looks back one period, that day included.
    since = shop.digest_sent_at + timedelta(days=1) if shop.digest_sent_at else now - PERIODS[settings.digest]
    rows = session.execute(
        select(VariantTotal.variant_id, VariantTotal.waiting, Variant.product_title, Variant.title, Variant.available)
        .outerjoin(Variant, and_(Variant.shop_id == VariantTotal.shop_id, Variant.variant_id == VariantTotal.variant_id))
        .where(VariantTotal.shop_id == shop.id, VariantTotal.waiting > 0)
        .order_by(VariantTotal.waiting.desc(), VariantTotal.variant_id)).all()
    lines = [Line(r.variant_id, _name(r.product_title, r.title, r.variant_id), r.waiting, r.available) for r in rows]
    growth = _growth_since(session, shop, since)
    threshold = settings.digest_threshold
    return Digest(
        shop=shop.name or shop.domain, period=settings.digest, waiting=sum(line.waiting for line in lines),
        most_wanted=lines[:TOP],
        crossed=[line for line in lines if line.waiting >= threshold > line.waiting - growth.get(line.variant_id, 0)],
        low_stock=[line for line in lines if line.stock is not None and 0 < line.stock < line.waiting],
    )


def render(digest: Digest) -> tuple[str, str, str]:
    """Subject, text and a plain HTML version."""
    subject = f"Backbell {digest.period} digest: {digest.waiting} shoppers waiting"
    sections = [("Most wanted", digest.most_wanted, "{waiting} waiting"),
                ("Waitlists that grew past your threshold", digest.crossed, "{waiting} waiting"),
                ("Low stock: fewer units than shoppers waiting", digest.low_stock, "{stock} in stock, {waiting} waiting")]
    text, html = [f"{digest.shop}: {digest.waiting} shoppers are waiting for a variant to come back."], []
    for title, lines, template in sections:
        if not lines:
            continue
        items = [f"{line.name} — {template.format(waiting=line.waiting, stock=line.stock)}" for line in lines]
        text += ["", title + ":"] + [f"- {item}" for item in items]
        html.append(f"<h2>{_escape(title)}</h2><ul>" + "".join(f"<li>{_escape(i)}</li>" for i in items) + "</ul>")
    body = f"<p>{_escape(text[0])}</p>" + "".join(html)
    return subject, "\n".join(text) + "\n", f"<!DOCTYPE html><html><body>{body}</body></html>"


def send_due_digests(runtime) -> int:
    """Send every due digest; how many went out."""
    now = utcnow()
    with runtime.db.session() as session:
        shop_ids = [s.id for s in session.scalars(select(Shop).where(Shop.uninstalled_at.is_(None),
                                                                     Shop.contact_email.is_not(None)))
                    if is_due(s, now)]
    return sum(send_digest(runtime, shop_id, now) for shop_id in shop_ids)


def send_digest(runtime, shop_id: int, now: datetime) -> bool:
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        subject, text, html = render(build_digest(session, shop, now))
        app_url = f"https://{shop.domain}/admin/apps/{runtime.settings.shopify_api_key}"
        message = OutgoingMessage(notification_id=0, channel="email", to=shop.contact_email, shop=shop.domain,
                                  kind="digest", variant_id=0, locale=shop.primary_locale, text=text, url=app_url,
                                  unsubscribe_url=app_url, subject=subject, html=html,
                                  tracking={"shop_id": str(shop.id), "kind": "digest"})
        (result,) = channel_for(runtime.settings, "email").send([message])
        if result.ok:
            shop.digest_sent_at = now
        log.info("digest_sent" if result.ok else "digest_failed", shop_id=shop.id, transient=result.transient)
        return result.ok


def _growth_since(session: Session, shop: Shop, since: datetime) -> dict[int, int]:
    """Net new waiting shoppers per variant from the day of ``since`` on."""
    first_day = shop_day(session, shop.id, since)
    rows = session.execute(select(VariantDay.variant_id, func.sum(VariantDay.subscribed - VariantDay.unwaited))
                           .where(VariantDay.shop_id == shop.id, VariantDay.day >= first_day)
                           .group_by(VariantDay.variant_id))
    return {variant_id: int(net or 0) for variant_id, net in rows}


def _name(product: str | None, variant: str | None, variant_id: int) -> str:
    if not product:
        return f"Variant {variant_id}"
    return product if not variant or variant == "Default Title" else f"{product} ({variant})"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
