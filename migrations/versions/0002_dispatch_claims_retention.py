"""dispatch claims and leases, partial indexes for the beat's scans, retention counters

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
import plugin.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('lease_until', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retry_at', plugin.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_notifications_open', ['status', 'restock_event_id', 'channel'], unique=False,
                              sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index('ix_notifications_created', ['created_at'], unique=False)
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.create_index('ix_variants_shop_product', ['shop_id', 'product_id'], unique=False)
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_created', ['created_at'], unique=False)
    op.create_table('daily_counts',
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_daily_counts_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'day', 'name', name=op.f('pk_daily_counts'))
    )


def downgrade() -> None:
    op.drop_table('daily_counts')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_created')
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.drop_index('ix_variants_shop_product')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_created')
        batch_op.drop_index('ix_notifications_open', sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.drop_column('retry_at')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claim_token')
