"""The tables. Shopify ids are 64-bit integers (numeric part of the GID).

Contact values and tokens are stored only as ciphertext (see ``plugin.intake.contacts``); look-ups go
through the keyed hash in ``Contact.value_hash``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, BigId, UTCDateTime
from plugin.clock import utcnow

# Subscription.status ("expired": a double opt-in never confirmed; "closed": told
# ``max_alerts_per_subscription`` times without buying, plugin.dispatch.alert_cap)
WAITING, NOTIFIED, UNSUBSCRIBED, EXPIRED, CLOSED = "waiting", "notified", "unsubscribed", "expired", "closed"
# Offered a wait in an apology (plugin.offers.apology); the shopper's click makes it waiting.
OFFERED = "offered"
# Notification.status
PENDING, SENDING, SENT, FAILED, SKIPPED, UNCERTAIN = "pending", "sending", "sent", "failed", "skipped", "uncertain"
OPEN_NOTIFICATIONS = text("status IN ('pending', 'sending')")
# Notification.kind
RESTOCK, REMINDER, ETA, CONFIRM = "restock", "reminder", "eta", "confirm"


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    primary_locale: Mapped[str] = mapped_column(String(16), default="en")
    # The shop's contact address (Shop.contactEmail at install): where the merchant digest goes.
    contact_email: Mapped[str | None] = mapped_column(String(320))
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The storefront's primary domain (``shop.primaryDomain.host``), read when a link first needs it.
    primary_domain: Mapped[str | None] = mapped_column(String(255))
    # Expiring offline token (token exchange); ciphertext.
    access_token: Mapped[str | None] = mapped_column(Text)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[str | None] = mapped_column(Text)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Merchant settings; defaults and validation live in plugin.shop_settings.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def active(self) -> bool:
        return self.uninstalled_at is None


class Contact(Base):
    """A shopper's email address or phone number, encrypted, per shop."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("shop_id", "channel", "value_hash"),
        Index("ix_contacts_sync_due", "shop_id", "id", postgresql_where=text("customer_sync_due"),
              sqlite_where=text("customer_sync_due")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    value_ciphertext: Mapped[str] = mapped_column(Text)
    value_hash: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suppressed_reason: Mapped[str | None] = mapped_column(String(64))
    # Customer sync (plugin.measurement.customers): set when a wait starts or ends, cleared once
    # the Shopify customer carries the tag, the waited variants and the consent given.
    customer_sync_due: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    customer_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Variant(Base):
    """What we know of a variant somebody waits for (mirror of Shopify, refreshed on demand)."""

    __tablename__ = "variants"
    __table_args__ = (
        UniqueConstraint("shop_id", "variant_id"),
        Index("ix_variants_shop_item", "shop_id", "inventory_item_id"),
        # products/update looks variants up by product.
        Index("ix_variants_shop_product", "shop_id", "product_id"),
        Index("ix_variants_eta_due", "eta_due_at", sqlite_where=text("eta_due_at IS NOT NULL"),
              postgresql_where=text("eta_due_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int | None] = mapped_column(BigInteger)
    inventory_item_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(String(255))
    product_title: Mapped[str | None] = mapped_column(String(255))
    product_handle: Mapped[str | None] = mapped_column(String(255))
    price: Mapped[str | None] = mapped_column(String(32))
    inventory_policy: Mapped[str] = mapped_column(String(16), default="DENY")  # DENY | CONTINUE
    tracked: Mapped[bool] = mapped_column(Boolean, default=True)
    product_status: Mapped[str] = mapped_column(String(16), default="ACTIVE")  # ACTIVE | DRAFT | ARCHIVED
    # Sellable quantity over the counted locations when last computed; None = never known.
    available: Mapped[int | None] = mapped_column(Integer)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_restock_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the waiting shoppers are told the (latest) expected date: an hour after the first
    # change, so changes within that hour make one notice (plugin.dispatch.eta).
    eta_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def can_alert(self) -> bool:
        """Backorderable, untracked, draft and archived variants never alert."""
        return self.tracked and self.inventory_policy == "DENY" and self.product_status == "ACTIVE"


class InventoryLevel(Base):
    """Per-location mirror of ``available`` from ``inventory_levels/update``."""

    __tablename__ = "inventory_levels"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    inventory_item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    location_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    available: Mapped[int | None] = mapped_column(Integer)
    # Shopify's updated_at of the level; older deliveries are ignored.
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Subscription(Base):
    """A shopper waiting for one variant on one channel. ``id`` keeps registration order."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index(
            "uq_subscriptions_one_waiting",
            "contact_id",
            "variant_id",
            unique=True,
            sqlite_where=text("status = 'waiting'"),
            postgresql_where=text("status = 'waiting'"),
        ),
        Index("ix_subscriptions_variant_queue", "shop_id", "variant_id", "status", "id"),
        # The admin's subscriber list: newest first, optionally by status.
        Index("ix_subscriptions_shop_list", "shop_id", "id"),
        Index("ix_subscriptions_shop_status", "shop_id", "status", "id"),
        Index("ix_subscriptions_confirm_by", "confirm_by", sqlite_where=text("confirm_by IS NOT NULL"),
              postgresql_where=text("confirm_by IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=WAITING)
    locale: Mapped[str] = mapped_column(String(16), default="en")
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Double opt-in: set while the shopper has not confirmed (the subscription expires then);
    # such a subscription is never told of a restock.
    confirm_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Restock alerts sent for this subscription (the cap on re-enrolment; notices are pruned).
    alerts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # When the shop's customers were last searched for this shopper's email (plugin.dispatch.email_links).
    customer_looked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    contact: Mapped[Contact] = relationship(lazy="joined")

    @property
    def counted_status(self) -> str:
        """The status the dashboard's counters know: a wait not yet confirmed (double opt-in) was
        never counted as waiting, so its end must not be counted either."""
        return "unconfirmed" if self.status == WAITING and self.confirm_by is not None else self.status


class RestockEvent(Base):
    """One crossing of a variant from below the shop's minimum to at or above it."""

    __tablename__ = "restock_events"
    __table_args__ = (
        Index("ix_restock_events_variant", "shop_id", "variant_id", "id"),
        Index("ix_restock_events_next_wave", "next_wave_at", sqlite_where=text("next_wave_at IS NOT NULL"),
              postgresql_where=text("next_wave_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(BigInteger)
    previous_available: Mapped[int | None] = mapped_column(Integer)
    available: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # webhook | reconcile | manual | demo
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | planned | done | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the next batch of shoppers is due (stock re-read first); None = nobody left to batch.
    next_wave_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """The outbox: one row per notice. The unique key makes "the same notice twice" impossible."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("subscription_id", "restock_event_id", "channel", "kind"),
        Index("ix_notifications_queue", "restock_event_id", "status", "id"),
        # The beat's scans (open_batches, recover_stalled) look only at unfinished rows: a small
        # partial index instead of a scan of every notice ever sent.
        Index("ix_notifications_open", "status", "restock_event_id", "channel",
              sqlite_where=OPEN_NOTIFICATIONS, postgresql_where=OPEN_NOTIFICATIONS),
        Index("ix_notifications_created", "created_at"),  # retention
        # One eta notice per date, one confirmation per subscription.
        Index("uq_notifications_dedupe", "subscription_id", "dedupe_key", unique=True,
              sqlite_where=text("dedupe_key IS NOT NULL"), postgresql_where=text("dedupe_key IS NOT NULL")),
        Index("ix_notifications_held", "due_at", sqlite_where=text("due_at IS NOT NULL"),
              postgresql_where=text("due_at IS NOT NULL")),
        Index("ix_notifications_remind", "remind_at", sqlite_where=text("remind_at IS NOT NULL"),
              postgresql_where=text("remind_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    restock_event_id: Mapped[int | None] = mapped_column(ForeignKey("restock_events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16), default="restock")
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    # Held (quiet hours) until then: the release job clears it at that time and starts a send
    # chain; a send chain only claims rows without it.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A sent restock notice: when its reminder is due (cleared once the reminder is decided).
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Notices not tied to a restock are unique per subscription and key ("eta:2031-05-01", "confirm").
    dedupe_key: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who holds the claim (one token per claimed batch) and until when: every change after the
    # claim checks both, so a row recovered and re-claimed cannot be overwritten by a late worker.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Committed right before the provider call: a stalled row with it set may have been delivered.
    handed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Put back after a transient failure: the send chain's Celery retry comes by then, so the
    # beat's recovery leaves the row alone until it has passed.
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_message_id: Mapped[str | None] = mapped_column(String(255), index=True)  # Twilio callbacks find it
    error: Mapped[str | None] = mapped_column(Text)
    discount_code: Mapped[str | None] = mapped_column(String(64))
    # When the offer in the notice ends: the code's expiry, or the held unit's (plugin.offers).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # From the provider's delivery events (SendGrid event webhook, Twilio status callbacks).
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscription: Mapped[Subscription] = relationship()


class CustomerTags(Base):
    """A Shopify customer's tags as last read (VIP ordering), cached for minutes.

    ``tags`` is lower-case and comma-delimited with a leading and trailing comma (",vip,gold,"),
    so the plan can match a tag with one LIKE; None = the tags could not be read.
    """

    __tablename__ = "customer_tags"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tags: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryEvent(Base):
    """One provider event about a notice (delivered, open, click, bounce, …), recorded once:
    ``provider_event_id`` is SendGrid's ``sg_event_id`` or Twilio's message sid with its status."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_event_id: Mapped[str] = mapped_column(String(160), unique=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"),
                                                        index=True)
    provider: Mapped[str] = mapped_column(String(16))  # sendgrid | twilio
    event: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attribution(Base):
    """A purchase recovered by a notice: the first order of the told variant by the told shopper
    within the window, or any order with the notice's code. One per notice; a cancelled order
    keeps its row with ``cancelled_at`` set and stops counting."""

    __tablename__ = "attributions"
    __table_args__ = (UniqueConstraint("notification_id"), Index("ix_attributions_order", "shop_id", "order_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    # Kept when retention deletes the notice (SET NULL): recovered revenue must not shrink.
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    order_id: Mapped[int] = mapped_column(BigInteger)
    variant_id: Mapped[int] = mapped_column(BigInteger)
    matched_by: Mapped[str] = mapped_column(String(16))  # customer | contact | code
    revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    purchased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the credited notice was sent: time to purchase outlives the pruned notice.
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Decision(Base):
    """The merchant-visible decision log ("sent", "skipped: sold out again", …). No contact data."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_shop_time", "shop_id", "id"),
        Index("ix_decisions_created", "created_at"),
        # The activity log's filters.
        Index("ix_decisions_shop_variant", "shop_id", "variant_id", "id"),
        Index("ix_decisions_shop_subscription", "shop_id", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(64))
    variant_id: Mapped[int | None] = mapped_column(BigInteger)
    subscription_id: Mapped[int | None] = mapped_column(BigInteger)
    restock_event_id: Mapped[int | None] = mapped_column(BigInteger)
    notification_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class _Funnel:
    """The counters every aggregate row carries (see ``plugin.measurement.aggregates``)."""

    subscribed: Mapped[int] = mapped_column(BigInteger, default=0)  # waits started
    unwaited: Mapped[int] = mapped_column(BigInteger, default=0)  # waits ended (told, unsubscribed, deleted)
    told: Mapped[int] = mapped_column(BigInteger, default=0)  # restock notices sent
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    opened: Mapped[int] = mapped_column(BigInteger, default=0)
    clicked: Mapped[int] = mapped_column(BigInteger, default=0)
    purchased: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0"))


class ShopDay(_Funnel, Base):
    """One shop's counters for one day of the shop's calendar, kept as things happen.

    Nothing here is derived from rows retention deletes, so the numbers never shrink when old
    notices, events or decisions are pruned.
    """

    __tablename__ = "shop_days"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class VariantDay(_Funnel, Base):
    """One variant's counters for one day of the shop's calendar."""

    __tablename__ = "variant_days"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    variant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class VariantTotal(_Funnel, Base):
    """One variant's counters since install, with ``waiting`` = subscribed − unwaited (the demand table)."""

    __tablename__ = "variant_totals"
    __table_args__ = (Index("ix_variant_totals_demand", "shop_id", "waiting"),)

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    variant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    waiting: Mapped[int] = mapped_column(BigInteger, default=0)


class PurchaseDelay(Base):
    """How long after the notice purchases came, as a histogram per shop and day (the median of
    any range of days merges these rows; see ``plugin.measurement.aggregates.delay_bucket``)."""

    __tablename__ = "purchase_delays"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer, primary_key=True)  # the bucket's lower bound
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class InboxDelivery(Base):
    """A verified Shopify webhook, kept until its topic handler has run: the durable inbox.

    Written (payload encrypted) in the transaction that answers Shopify 200; the task that handles
    it carries only ``id``. ``processed_at`` is set in the handler's own transaction, so a delivery
    takes effect exactly once however often it is driven. ``webhook_id`` is unique: a repeat
    delivery is answered 200 and not stored again.
    """

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        # The re-drive scan and the drain's claim: unprocessed, unparked rows by due time (a small, hot subset).
        Index("ix_webhook_inbox_due", "next_attempt_at",
              postgresql_where=text("processed_at IS NULL AND parked_at IS NULL"),
              sqlite_where=text("processed_at IS NULL AND parked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(128), unique=True)
    shop_domain: Mapped[str] = mapped_column(String(255), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    # The raw body, encrypted with the contact keys; erased after retention once processed.
    payload_ciphertext: Mapped[str | None] = mapped_column(Text)
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the re-drive may queue it again (a lease while a task is queued or running).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DataExport(Base):
    """A ``customers/data_request``: the customer's data, encrypted, for the merchant to hand over."""

    __tablename__ = "data_exports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    shopify_request_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    payload_ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Discount.status / Hold.status
OFFER_PENDING, OFFER_ACTIVE, OFFER_FAILED = "pending", "active", "failed"
HOLD_USED, HOLD_EXPIRED, DEACTIVATED = "used", "expired", "deactivated"


class Discount(Base):
    """A Shopify code discount Backbell made (``plugin.offers.discounts``): one per restock event,
    its shoppers' personal codes added to it in bulk, or one per stock-out cancellation (the
    apology's code). ``status``: pending → active (``shopify_id`` known) | failed; active →
    deactivated after ``ends_at``. ``lease_until`` keeps two send chains from creating it twice."""

    __tablename__ = "discounts"
    __table_args__ = (
        UniqueConstraint("restock_event_id"),
        UniqueConstraint("shop_id", "order_id"),
        Index("ix_discounts_due", "status", "ends_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    restock_event_id: Mapped[int | None] = mapped_column(ForeignKey("restock_events.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(BigInteger)  # the cancelled order (apology)
    kind: Mapped[str] = mapped_column(String(16))  # restock | apology
    product_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    percent: Mapped[int] = mapped_column(Integer)
    shopify_id: Mapped[str | None] = mapped_column(String(128))  # gid://shopify/DiscountCodeNode/…
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=OFFER_PENDING)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Hold(Base):
    """One unit held for one told shopper in a Shopify draft order (``plugin.offers.holds``).

    ``status``: pending (committed before draftOrderCreate, so the mirror counts the unit as held
    before Shopify's inventory webhook can arrive) → active | failed; active → used (the shopper
    checked out) | expired (deleted unused; the unit passes to the next in line).
    """

    __tablename__ = "holds"
    __table_args__ = (
        UniqueConstraint("notification_id"),
        Index("ix_holds_variant", "shop_id", "variant_id", "status"),
        Index("ix_holds_due", "status", "reserved_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    restock_event_id: Mapped[int] = mapped_column(ForeignKey("restock_events.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    variant_id: Mapped[int] = mapped_column(BigInteger)
    draft_order_id: Mapped[int | None] = mapped_column(BigInteger)
    invoice_url: Mapped[str | None] = mapped_column(Text)
    reserved_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=OFFER_PENDING)
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
