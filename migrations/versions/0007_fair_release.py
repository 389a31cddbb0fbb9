"""fair release: due times for batches, held notices, reminders and ETA notices; double opt-in;
cached customer tags for VIP ordering

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def _when(column: str) -> sa.TextClause:
    return sa.text(f"{column} IS NOT NULL")


def _partial(batch_op, name: str, columns: list[str], where: str, unique: bool = False) -> None:
    batch_op.create_index(name, columns, unique=unique, sqlite_where=_when(where), postgresql_where=_when(where))


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("remind_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=64), nullable=True))
        _partial(batch_op, "uq_notifications_dedupe", ["subscription_id", "dedupe_key"], "dedupe_key", unique=True)
        _partial(batch_op, "ix_notifications_held", ["due_at"], "due_at")
        _partial(batch_op, "ix_notifications_remind", ["remind_at"], "remind_at")
    with op.batch_alter_table("restock_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_wave_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        _partial(batch_op, "ix_restock_events_next_wave", ["next_wave_at"], "next_wave_at")
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eta_due_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        _partial(batch_op, "ix_variants_eta_due", ["eta_due_at"], "eta_due_at")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirm_by", plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", plugin.db.UTCDateTime(timezone=True), nullable=True))
        _partial(batch_op, "ix_subscriptions_confirm_by", ["confirm_by"], "confirm_by")
    op.create_table(
        "customer_tags",
        sa.Column("shop_id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("read_at", plugin.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_customer_tags_shop_id_shops"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", "customer_id", name=op.f("pk_customer_tags")),
    )


def downgrade() -> None:
    op.drop_table("customer_tags")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_confirm_by", sqlite_where=_when("confirm_by"),
                            postgresql_where=_when("confirm_by"))
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("confirm_by")
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_index("ix_variants_eta_due", sqlite_where=_when("eta_due_at"), postgresql_where=_when("eta_due_at"))
        batch_op.drop_column("eta_due_at")
    with op.batch_alter_table("restock_events", schema=None) as batch_op:
        batch_op.drop_index("ix_restock_events_next_wave", sqlite_where=_when("next_wave_at"),
                            postgresql_where=_when("next_wave_at"))
        batch_op.drop_column("next_wave_at")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        for name, column in (("ix_notifications_remind", "remind_at"), ("ix_notifications_held", "due_at"),
                             ("uq_notifications_dedupe", "dedupe_key")):
            batch_op.drop_index(name, sqlite_where=_when(column), postgresql_where=_when(column))
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("remind_at")
        batch_op.drop_column("due_at")
