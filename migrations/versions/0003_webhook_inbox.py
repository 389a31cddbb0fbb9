"""webhook inbox: verified deliveries kept (encrypted) until handled; replaces webhook_receipts

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNHANDLED = "processed_at IS NULL AND parked_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("webhook_id", sa.String(length=128), nullable=False),
        sa.Column("shop_domain", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("payload_ciphertext", sa.Text(), nullable=True),
        sa.Column("triggered_at", plugin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", plugin.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", plugin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", plugin.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("parked_at", plugin.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
        sa.UniqueConstraint("webhook_id", name=op.f("uq_webhook_inbox_webhook_id")),
    )
    with op.batch_alter_table("webhook_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_inbox_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_inbox_shop_domain"), ["shop_domain"], unique=False)
        batch_op.create_index("ix_webhook_inbox_due", ["next_attempt_at"], unique=False,
                              postgresql_where=sa.text(UNHANDLED), sqlite_where=sa.text(UNHANDLED))
    # Seen ids stay seen: a receipt becomes a processed delivery without a payload.
    op.execute(
        "INSERT INTO webhook_inbox (webhook_id, shop_domain, topic, received_at, processed_at, attempts) "
        "SELECT webhook_id, shop_domain, topic, received_at, received_at, 0 FROM webhook_receipts"
    )
    with op.batch_alter_table("webhook_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_receipts_received_at"))
    op.drop_table("webhook_receipts")


def downgrade() -> None:
    op.create_table(
        "webhook_receipts",
        sa.Column("webhook_id", sa.String(length=128), nullable=False),
        sa.Column("shop_domain", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("received_at", plugin.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_webhook_receipts")),
    )
    with op.batch_alter_table("webhook_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_receipts_received_at"), ["received_at"], unique=False)
    op.execute("INSERT INTO webhook_receipts (webhook_id, shop_domain, topic, received_at) "
               "SELECT webhook_id, shop_domain, topic, received_at FROM webhook_inbox")
    with op.batch_alter_table("webhook_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_inbox_due")
        batch_op.drop_index(batch_op.f("ix_webhook_inbox_shop_domain"))
        batch_op.drop_index(batch_op.f("ix_webhook_inbox_received_at"))
    op.drop_table("webhook_inbox")
