"""join the auth and diary branches

The auth tables (0003) and the diary (0004, 0005) were written at the same time on top of 0002 and left two
heads. Nothing in either depends on the other; this revision joins them so that the history has one head
again and the next migration has one parent.

Revision ID: 0006_join
Revises: 0003_auth, 0005_rules
Create Date: 2026-11-29 17:20:00
"""

from collections.abc import Sequence

revision: str = '0006_join'
down_revision: str | Sequence[str] | None = ('0003_auth', '0005_rules')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
