"""fair release, last gaps: restock alerts counted per subscription (the re-enrolment cap) and
when a shopper's email was last searched among the shop's customers

Revision ID: 0008_fair
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import plugin.db

revision = "0008_fair"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alerts_sent", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.add_column(sa.Column("customer_looked_up_at", plugin.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("customer_looked_up_at")
        batch_op.drop_column("alerts_sent")
