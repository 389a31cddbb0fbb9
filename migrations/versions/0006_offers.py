"""offers: discounts (one per restock or apology), held units (draft orders), the shop's primary
domain and each notice's offer end

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
WHEN = plugin.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "discounts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("shop_id", BIG_ID, nullable=False),
        sa.Column("restock_event_id", BIG_ID, nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("product_ids", sa.JSON(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("shopify_id", sa.String(length=128), nullable=True),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("deactivated_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_discounts_shop_id_shops"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["restock_event_id"], ["restock_events.id"],
                                name=op.f("fk_discounts_restock_event_id_restock_events"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discounts")),
        sa.UniqueConstraint("restock_event_id", name=op.f("uq_discounts_restock_event_id")),
        sa.UniqueConstraint("shop_id", "order_id", name=op.f("uq_discounts_shop_id_order_id")),
    )
    with op.batch_alter_table("discounts", schema=None) as batch_op:
        batch_op.create_index("ix_discounts_due", ["status", "ends_at"], unique=False)
    op.create_table(
        "holds",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("shop_id", BIG_ID, nullable=False),
        sa.Column("restock_event_id", BIG_ID, nullable=False),
        sa.Column("subscription_id", BIG_ID, nullable=False),
        sa.Column("notification_id", BIG_ID, nullable=True),
        sa.Column("variant_id", sa.BigInteger(), nullable=False),
        sa.Column("draft_order_id", sa.BigInteger(), nullable=True),
        sa.Column("invoice_url", sa.Text(), nullable=True),
        sa.Column("reserved_until", WHEN, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_holds_shop_id_shops"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["restock_event_id"], ["restock_events.id"],
                                name=op.f("fk_holds_restock_event_id_restock_events"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name=op.f("fk_holds_subscription_id_subscriptions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"],
                                name=op.f("fk_holds_notification_id_notifications"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_holds_notification_id")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index("ix_holds_variant", ["shop_id", "variant_id", "status"], unique=False)
        batch_op.create_index("ix_holds_due", ["status", "reserved_until"], unique=False)
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("primary_domain", sa.String(length=255), nullable=True))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", WHEN, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("primary_domain")
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_due")
        batch_op.drop_index("ix_holds_variant")
    op.drop_table("holds")
    with op.batch_alter_table("discounts", schema=None) as batch_op:
        batch_op.drop_index("ix_discounts_due")
    op.drop_table("discounts")
