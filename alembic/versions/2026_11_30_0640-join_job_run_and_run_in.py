"""join the job-run and run-in branches

0016_job_run (the scheduler's job_run table) and 0016_diary_run_in were merged at the same time on top of
0015_report_snapshots and left two heads. Neither depends on the other; this revision joins them so the history
has one head again and the next migration has one parent.

Revision ID: 0017_join
Revises: 0016_job_run, 0016_diary_run_in
Create Date: 2026-11-30 06:40:00
"""

from collections.abc import Sequence

revision: str = '0017_join'
down_revision: str | Sequence[str] | None = ('0016_job_run', '0016_diary_run_in')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
