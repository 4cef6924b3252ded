"""Every table of the service; importing this package registers them all on the shared metadata."""

from core.models.alerts import Alert, AlertEntry
from core.models.auth import AuditEvent, Invitation, LoginThrottle, RefreshToken
from core.models.clinic import ClinicSession
from core.models.diary import DiaryEntry, DiaryEntryVersion, DiarySequence, GlucoseReading
from core.models.jobs import JobRun
from core.models.notifications import Notification, NotificationPreference
from core.models.outbox import DeliveryAttempt, OutboxMessage
from core.models.people import Role, User
from core.models.reports import EpisodeState, HypoEpisode, ReportSnapshot
from core.models.study import (
    Arm,
    GuardianLink,
    Participant,
    ParticipantStatus,
    ParticipantWeight,
    ProtocolVersion,
    Site,
    StaffAssignment,
    Study,
)
from core.models.visits import Visit, VisitVersion

__all__ = [
    "Alert",
    "AlertEntry",
    "Arm",
    "AuditEvent",
    "ClinicSession",
    "DeliveryAttempt",
    "DiaryEntry",
    "DiaryEntryVersion",
    "DiarySequence",
    "EpisodeState",
    "GlucoseReading",
    "GuardianLink",
    "HypoEpisode",
    "Invitation",
    "JobRun",
    "LoginThrottle",
    "Notification",
    "NotificationPreference",
    "OutboxMessage",
    "Participant",
    "ParticipantStatus",
    "ParticipantWeight",
    "ProtocolVersion",
    "RefreshToken",
    "ReportSnapshot",
    "Role",
    "Site",
    "StaffAssignment",
    "Study",
    "User",
    "Visit",
    "VisitVersion",
]
