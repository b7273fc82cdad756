"""outbox relay: state, lease (claimed_until/claimed_by), idempotency key, dead_at

Revision ID: 0002_outbox_relay
Revises: 0001
Create Date: 2026-12-02 02:47:49.103986+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002_outbox_relay'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('state', sa.String(length=16), server_default='pending', nullable=False))
    op.add_column('outbox', sa.Column('idempotency_key', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False))
    op.add_column('outbox', sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('claimed_by', sa.String(length=64), nullable=True))
    op.add_column('outbox', sa.Column('dead_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE outbox SET state = 'delivered' WHERE delivered_at IS NOT NULL")
    op.create_check_constraint('state', 'outbox', "state IN ('pending', 'delivered', 'dead')")
    op.drop_index(op.f('ix_outbox_pending'), table_name='outbox', postgresql_where='(delivered_at IS NULL)')
    op.create_index('ix_outbox_undelivered', 'outbox', ['state', 'available_at'], unique=False, postgresql_where=sa.text("state <> 'delivered'"))
    op.create_unique_constraint(op.f('uq_outbox_idempotency_key'), 'outbox', ['idempotency_key'])


def downgrade() -> None:
    op.drop_constraint(op.f('uq_outbox_idempotency_key'), 'outbox', type_='unique')
    op.drop_index('ix_outbox_undelivered', table_name='outbox', postgresql_where=sa.text("state <> 'delivered'"))
    op.create_index(op.f('ix_outbox_pending'), 'outbox', ['available_at'], unique=False, postgresql_where='(delivered_at IS NULL)')
    op.drop_constraint('state', 'outbox', type_='check')
    op.drop_column('outbox', 'dead_at')
    op.drop_column('outbox', 'claimed_by')
    op.drop_column('outbox', 'claimed_until')
    op.drop_column('outbox', 'idempotency_key')
    op.drop_column('outbox', 'state')
