"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 01:58:08.686896
"""

from alembic import op
import sqlalchemy as sa
import plugin.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('shops',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('primary_locale', sa.String(length=16), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=True),
    sa.Column('access_token_expires_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refresh_token', sa.Text(), nullable=True),
    sa.Column('refresh_token_expires_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('scopes', sa.Text(), nullable=True),
    sa.Column('installed_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('uninstalled_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shops')),
    sa.UniqueConstraint('domain', name=op.f('uq_shops_domain'))
    )
    op.create_table('webhook_receipts',
    sa.Column('webhook_id', sa.String(length=128), nullable=False),
    sa.Column('shop_domain', sa.String(length=255), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('received_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('webhook_id', name=op.f('pk_webhook_receipts'))
    )
    with op.batch_alter_table('webhook_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_receipts_received_at'), ['received_at'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('value_ciphertext', sa.Text(), nullable=False),
    sa.Column('value_hash', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('suppressed_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('suppressed_reason', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_contacts_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('shop_id', 'channel', 'value_hash', name=op.f('uq_contacts_shop_id_channel_value_hash'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_shop_id'), ['shop_id'], unique=False)

    op.create_table('data_exports',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('shopify_request_id', sa.BigInteger(), nullable=True),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('payload_ciphertext', sa.Text(), nullable=False),
    sa.Column('created_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_data_exports_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_exports'))
    )
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_exports_shop_id'), ['shop_id'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('decision', sa.String(length=64), nullable=False),
    sa.Column('variant_id', sa.BigInteger(), nullable=True),
    sa.Column('subscription_id', sa.BigInteger(), nullable=True),
    sa.Column('restock_event_id', sa.BigInteger(), nullable=True),
    sa.Column('notification_id', sa.BigInteger(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('created_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_decisions_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_shop_time', ['shop_id', 'id'], unique=False)

    op.create_table('inventory_levels',
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('inventory_item_id', sa.BigInteger(), nullable=False),
    sa.Column('location_id', sa.BigInteger(), nullable=False),
    sa.Column('available', sa.Integer(), nullable=True),
    sa.Column('source_updated_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_inventory_levels_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'inventory_item_id', 'location_id', name=op.f('pk_inventory_levels'))
    )
    op.create_table('restock_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('variant_id', sa.BigInteger(), nullable=False),
    sa.Column('previous_available', sa.Integer(), nullable=True),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_restock_events_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_restock_events'))
    )
    with op.batch_alter_table('restock_events', schema=None) as batch_op:
        batch_op.create_index('ix_restock_events_variant', ['shop_id', 'variant_id', 'id'], unique=False)

    op.create_table('variants',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('variant_id', sa.BigInteger(), nullable=False),
    sa.Column('product_id', sa.BigInteger(), nullable=True),
    sa.Column('inventory_item_id', sa.BigInteger(), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=True),
    sa.Column('product_title', sa.String(length=255), nullable=True),
    sa.Column('product_handle', sa.String(length=255), nullable=True),
    sa.Column('price', sa.String(length=32), nullable=True),
    sa.Column('inventory_policy', sa.String(length=16), nullable=False),
    sa.Column('tracked', sa.Boolean(), nullable=False),
    sa.Column('product_status', sa.String(length=16), nullable=False),
    sa.Column('available', sa.Integer(), nullable=True),
    sa.Column('synced_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_restock_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expected_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_variants_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_variants')),
    sa.UniqueConstraint('shop_id', 'variant_id', name=op.f('uq_variants_shop_id_variant_id'))
    )
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.create_index('ix_variants_shop_item', ['shop_id', 'inventory_item_id'], unique=False)

    op.create_table('subscriptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('variant_id', sa.BigInteger(), nullable=False),
    sa.Column('product_id', sa.BigInteger(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('consent_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('consent_version', sa.String(length=64), nullable=True),
    sa.Column('created_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notified_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_subscriptions_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_subscriptions_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriptions_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_subscriptions_variant_queue', ['shop_id', 'variant_id', 'status', 'id'], unique=False)
        batch_op.create_index('uq_subscriptions_one_waiting', ['contact_id', 'variant_id'], unique=True, sqlite_where=sa.text("status = 'waiting'"), postgresql_where=sa.text("status = 'waiting'"))

    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('restock_event_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('handed_off_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('provider_message_id', sa.String(length=255), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('discount_code', sa.String(length=64), nullable=True),
    sa.Column('clicked_at', plugin.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', plugin.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['restock_event_id'], ['restock_events.id'], name=op.f('fk_notifications_restock_event_id_restock_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_notifications_shop_id_shops'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_notifications_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('subscription_id', 'restock_event_id', 'channel', 'kind', name=op.f('uq_notifications_subscription_id_restock_event_id_channel_kind'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_queue', ['restock_event_id', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_shop_id'), ['shop_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_shop_id'))
        batch_op.drop_index('ix_notifications_queue')

    op.drop_table('notifications')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('uq_subscriptions_one_waiting', sqlite_where=sa.text("status = 'waiting'"), postgresql_where=sa.text("status = 'waiting'"))
        batch_op.drop_index('ix_subscriptions_variant_queue')
        batch_op.drop_index(batch_op.f('ix_subscriptions_contact_id'))

    op.drop_table('subscriptions')
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.drop_index('ix_variants_shop_item')

    op.drop_table('variants')
    with op.batch_alter_table('restock_events', schema=None) as batch_op:
        batch_op.drop_index('ix_restock_events_variant')

    op.drop_table('restock_events')
    op.drop_table('inventory_levels')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_shop_time')

    op.drop_table('decisions')
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_exports_shop_id'))

    op.drop_table('data_exports')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_shop_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_customer_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('webhook_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_receipts_received_at'))

    op.drop_table('webhook_receipts')
    op.drop_table('shops')

