"""dashboard counters kept as things happen (shop_days, variant_days, variant_totals,
purchase_delays) replacing daily_counts; customer sync flags; the shop's contact address and
digest time; time to purchase on attributions; indexes for the admin's lists

The counters are filled from the rows still present (and from daily_counts, which retention
wrote for notices it pruned) before daily_counts goes, so a shop's numbers carry over.

Revision ID: 0005
Revises: 0004
"""

from collections import Counter, defaultdict
from datetime import timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
FUNNEL = ("subscribed", "unwaited", "told", "delivered", "opened", "clicked", "purchased")
SYNC_DUE = sa.text("customer_sync_due")


def _funnel_columns():
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in FUNNEL] + [
        sa.Column("revenue", sa.Numeric(16, 2), nullable=False)]


def _shop_fk(table):
    return sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f(f"fk_{table}_shop_id_shops"),
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.create_table("shop_days", *_funnel_columns(),
                    sa.Column("shop_id", BIG_ID, nullable=False), sa.Column("day", sa.Date(), nullable=False),
                    _shop_fk("shop_days"), sa.PrimaryKeyConstraint("shop_id", "day", name=op.f("pk_shop_days")))
    op.create_table("variant_days", *_funnel_columns(),
                    sa.Column("shop_id", BIG_ID, nullable=False), sa.Column("variant_id", sa.BigInteger(), nullable=False),
                    sa.Column("day", sa.Date(), nullable=False), _shop_fk("variant_days"),
                    sa.PrimaryKeyConstraint("shop_id", "variant_id", "day", name=op.f("pk_variant_days")))
    op.create_table("variant_totals", *_funnel_columns(),
                    sa.Column("shop_id", BIG_ID, nullable=False), sa.Column("variant_id", sa.BigInteger(), nullable=False),
                    sa.Column("waiting", sa.BigInteger(), nullable=False), _shop_fk("variant_totals"),
                    sa.PrimaryKeyConstraint("shop_id", "variant_id", name=op.f("pk_variant_totals")))
    op.create_index("ix_variant_totals_demand", "variant_totals", ["shop_id", "waiting"])
    op.create_table("purchase_delays",
                    sa.Column("shop_id", BIG_ID, nullable=False), sa.Column("day", sa.Date(), nullable=False),
                    sa.Column("minutes", sa.Integer(), nullable=False), sa.Column("count", sa.BigInteger(), nullable=False),
                    _shop_fk("purchase_delays"),
                    sa.PrimaryKeyConstraint("shop_id", "day", "minutes", name=op.f("pk_purchase_delays")))
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.add_column(sa.Column("customer_sync_due", sa.Boolean(), server_default=sa.text("true"),
                                      nullable=False))
        batch_op.add_column(sa.Column("customer_synced_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_contacts_sync_due", ["shop_id", "id"], postgresql_where=SYNC_DUE,
                              sqlite_where=SYNC_DUE)
    with op.batch_alter_table("shops") as batch_op:
        batch_op.add_column(sa.Column("contact_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("digest_sent_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("attributions") as batch_op:
        batch_op.add_column(sa.Column("told_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.create_index("ix_subscriptions_shop_list", ["shop_id", "id"])
        batch_op.create_index("ix_subscriptions_shop_status", ["shop_id", "status", "id"])
    with op.batch_alter_table("decisions") as batch_op:
        batch_op.create_index("ix_decisions_shop_variant", ["shop_id", "variant_id", "id"])
        batch_op.create_index("ix_decisions_shop_subscription", ["shop_id", "subscription_id", "id"])
    _backfill(op.get_bind())
    op.drop_table("daily_counts")


def downgrade() -> None:
    op.create_table("daily_counts",
                    sa.Column("shop_id", BIG_ID, nullable=False), sa.Column("day", sa.Date(), nullable=False),
                    sa.Column("name", sa.String(length=32), nullable=False),
                    sa.Column("count", sa.BigInteger(), nullable=False), _shop_fk("daily_counts"),
                    sa.PrimaryKeyConstraint("shop_id", "day", "name", name=op.f("pk_daily_counts")))
    with op.batch_alter_table("decisions") as batch_op:
        batch_op.drop_index("ix_decisions_shop_subscription")
        batch_op.drop_index("ix_decisions_shop_variant")
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.drop_index("ix_subscriptions_shop_status")
        batch_op.drop_index("ix_subscriptions_shop_list")
    with op.batch_alter_table("attributions") as batch_op:
        batch_op.drop_column("told_at")
    with op.batch_alter_table("shops") as batch_op:
        batch_op.drop_column("digest_sent_at")
        batch_op.drop_column("contact_email")
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.drop_index("ix_contacts_sync_due", postgresql_where=SYNC_DUE, sqlite_where=SYNC_DUE)
        batch_op.drop_column("customer_synced_at")
        batch_op.drop_column("customer_sync_due")
    for table in ("purchase_delays", "variant_totals", "variant_days", "shop_days"):
        op.drop_table(table)


# -- backfill: self-contained (no app imports beyond the column type), so it stays as written ----

class _Counts:
    def __init__(self, zones):
        self.zones = zones
        self.shop_days = defaultdict(Counter)
        self.variant_days = defaultdict(Counter)
        self.variant_totals = defaultdict(Counter)

    def day(self, shop_id, at):
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        return at.astimezone(self.zones.get(shop_id, ZoneInfo("UTC"))).date()

    def add(self, shop_id, variant_id, at, **deltas):
        day = self.day(shop_id, at)
        self.shop_days[(shop_id, day)].update(deltas)
        if variant_id is not None:
            self.variant_days[(shop_id, variant_id, day)].update(deltas)
            totals = dict(deltas, waiting=deltas.get("subscribed", 0) - deltas.get("unwaited", 0))
            self.variant_totals[(shop_id, variant_id)].update(totals)


def _zone(name):
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _backfill(bind) -> None:
    meta = sa.MetaData()
    t = {name: sa.Table(name, meta, autoload_with=bind) for name in (
        "shops", "subscriptions", "notifications", "attributions", "daily_counts", "shop_days", "variant_days",
        "variant_totals", "purchase_delays")}
    counts = _Counts({row.id: _zone(row.timezone) for row in bind.execute(sa.select(t["shops"].c.id, t["shops"].c.timezone))})
    s, n, a = t["subscriptions"].c, t["notifications"].c, t["attributions"].c
    for row in bind.execute(sa.select(s.shop_id, s.variant_id, s.status, s.created_at, s.notified_at, s.unsubscribed_at)):
        counts.add(row.shop_id, row.variant_id, row.created_at, subscribed=1)
        if row.status != "waiting":
            counts.add(row.shop_id, row.variant_id, row.notified_at or row.unsubscribed_at or row.created_at, unwaited=1)
    told = sa.select(n.shop_id, s.variant_id, n.sent_at, n.delivered_at, n.opened_at, n.clicked_at).join(
        t["subscriptions"], s.id == n.subscription_id).where(n.status == "sent", n.kind == "restock")
    for row in bind.execute(told):
        counts.add(row.shop_id, row.variant_id, row.sent_at or row.clicked_at, told=1)
        for name in ("delivered", "opened", "clicked"):
            if getattr(row, f"{name}_at") is not None:
                counts.add(row.shop_id, row.variant_id, getattr(row, f"{name}_at"), **{name: 1})
    daily = t["daily_counts"].c
    for row in bind.execute(sa.select(daily.shop_id, daily.day, daily.name, daily.count)):
        name = {"notifications_sent": "told", "notifications_clicked": "clicked"}.get(row.name)
        if name:
            counts.shop_days[(row.shop_id, row.day)][name] += row.count
    bind.execute(t["attributions"].update().values(
        told_at=sa.select(n.sent_at).where(n.id == a.notification_id).scalar_subquery()))
    for row in bind.execute(sa.select(a.shop_id, a.variant_id, a.purchased_at, a.revenue).where(a.cancelled_at.is_(None))):
        counts.add(row.shop_id, row.variant_id, row.purchased_at, purchased=1, revenue=Decimal(str(row.revenue)))
    _write(bind, t, counts)


def _write(bind, t, counts: _Counts) -> None:
    def rows(data, keys, extra=()):
        for key, deltas in data.items():
            values = dict(zip(keys, key))
            values.update({name: int(deltas.get(name, 0)) for name in (*FUNNEL, *extra)})
            values["revenue"] = deltas.get("revenue", Decimal("0"))
            yield values

    for table, data, keys, extra in (("shop_days", counts.shop_days, ("shop_id", "day"), ()),
                                     ("variant_days", counts.variant_days, ("shop_id", "variant_id", "day"), ()),
                                     ("variant_totals", counts.variant_totals, ("shop_id", "variant_id"), ("waiting",))):
        batch = list(rows(data, keys, extra))
        if batch:
            bind.execute(t[table].insert(), batch)
