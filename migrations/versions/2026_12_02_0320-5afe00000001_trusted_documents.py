"""persisted queries: mark trusted documents (registered with `customer-graph register-documents`) and their name

Revision ID: 5afe00000001
Revises: 0002_outbox_relay
Create Date: 2026-12-02 03:20:00.000000+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '5afe00000001'
down_revision: Union[str, Sequence[str], None] = '0002_outbox_relay'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('persisted_queries', sa.Column('trusted', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('persisted_queries', sa.Column('operation_name', sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('persisted_queries', 'operation_name')
    op.drop_column('persisted_queries', 'trusted')
