"""measurement: delivery events (SendGrid event webhook, Twilio status callbacks), attributions

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "delivery_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("provider_event_id", sa.String(length=160), nullable=False),
        sa.Column("shop_id", BIG_ID, nullable=False),
        sa.Column("notification_id", BIG_ID, nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("occurred_at", plugin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", plugin.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_delivery_events_shop_id_shops"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"],
                                name=op.f("fk_delivery_events_notification_id_notifications"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_events")),
        sa.UniqueConstraint("provider_event_id", name=op.f("uq_delivery_events_provider_event_id")),
    )
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_events_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_events_notification_id"), ["notification_id"], unique=False)
    op.create_table(
        "attributions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("shop_id", BIG_ID, nullable=False),
        sa.Column("notification_id", BIG_ID, nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("variant_id", sa.BigInteger(), nullable=False),
        sa.Column("matched_by", sa.String(length=16), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("purchased_at", plugin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", plugin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", plugin.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_attributions_shop_id_shops"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"],
                                name=op.f("fk_attributions_notification_id_notifications"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attributions")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_attributions_notification_id")),
    )
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.create_index("ix_attributions_order", ["shop_id", "order_id"], unique=False)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivered_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("opened_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("bounced_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_notifications_provider_message_id"), ["provider_message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_provider_message_id"))
        batch_op.drop_column("bounced_at")
        batch_op.drop_column("opened_at")
        batch_op.drop_column("delivered_at")
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.drop_index("ix_attributions_order")
    op.drop_table("attributions")
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_events_notification_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_events_shop_id"))
    op.drop_table("delivery_events")
