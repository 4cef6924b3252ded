"""The demo study's people: blinded MSCT1DM, two arms, two sites, staff, and three participants of three ages.

Dates are relative to core.clock.now(): treatment ("day 0") was 90 days ago, so a diary history can be laid over
the last 90 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock
from core.access import Actor
from core.models.people import ParticipantOrGuardian, Role, User
from core.models.study import Participant, Sex, Study
from core.people import invitations as invitation_service
from core.people import service as people_service
from core.studies import enrolment as enrolment_service
from core.studies import service as study_service


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    note: str = ""


ADMIN = DemoLogin("admin", "admin@demo.glucodiary.test", "demo-admin-Lantern-Orbit-42", "all studies")
CLINICIAN = DemoLogin(
    "clinician", "clinician@demo.glucodiary.test", "demo-Clinic-Heron-Maple-31", "site LJU (child, teen)"
)
COORDINATOR = DemoLogin(
    "coordinator", "coordinator@demo.glucodiary.test", "demo-Ledger-Tulip-Comet-57", "study-wide, blinded"
)
STATISTICIAN = DemoLogin(
    "statistician", "statistician@demo.glucodiary.test", "demo-Median-Falcon-River-64", "sees the arms"
)
GUARDIAN = DemoLogin(
    "guardian", "guardian@demo.glucodiary.test", "demo-Kite-Garden-Pebble-18", "mother of MS-001 (7)"
)
TEEN = DemoLogin(
    "participant", "teen@demo.glucodiary.test", "demo-Skate-Volcano-Mint-25", "MS-002 (15), logs himself"
)
ADULT = DemoLogin("participant", "adult@demo.glucodiary.test", "demo-Canoe-Thistle-Amber-79", "MS-003 (26)")
LOGINS = [ADMIN, CLINICIAN, COORDINATOR, STATISTICIAN, GUARDIAN, TEEN, ADULT]

STUDY_CODE = "MSCT1DM"
TREATMENT_DAYS_AGO = 90


@dataclass(frozen=True)
class DemoPeople:
    study: Study
    participants: dict[str, Participant]  # "child", "teen", "adult"
    guardian: User
    clinician: User
    coordinator: User
    statistician: User
    admin: User


def _years_ago(today: date, years: int, extra_days: int) -> date:
    try:
        anniversary = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        anniversary = today.replace(year=today.year - years, day=28)
    return anniversary - timedelta(days=extra_days)


async def load_people(*, session: AsyncSession) -> DemoPeople:
    """Create the demo study and its people through the same services the API uses (audited, eligibility-checked)."""
    # a database from before the demo study had people may hold the demo admin already
    admin = await people_service.find_user_by_email(
        session=session, email=ADMIN.email
    ) or await people_service.create_user(
        session=session, email=ADMIN.email, password=ADMIN.password, role=Role.admin
    )
    admin_actor = Actor.of(admin)
    context = audit.SYSTEM
    view = await study_service.create_study(
        session=session,
        actor=admin_actor,
        code=STUDY_CODE,
        name="Mesenchymal stem cells in new-onset type 1 diabetes",
        timezone="Europe/Ljubljana",
        blinded=True,
        sites=[
            study_service.SiteSpec("LJU", "University Children's Hospital Ljubljana", "Europe/Ljubljana"),
            study_service.SiteSpec("MB", "University Medical Centre Maribor", "Europe/Ljubljana"),
        ],
        arms=[
            study_service.ArmSpec("MSC", "Mesenchymal stem cells plus insulin"),
            study_service.ArmSpec("CTL", "Insulin alone"),
        ],
        protocol_overrides={},
        context=context,
    )
    study = view.study

    async def staff(login: DemoLogin, role: Role, sites: list[str]) -> User:
        user, _ = await study_service.add_staff(
            session=session,
            actor=admin_actor,
            study_id=study.id,
            email=login.email,
            password=login.password,
            role=role,
            site_codes=sites,
            context=context,
        )
        return user

    clinician = await staff(CLINICIAN, Role.clinician, ["LJU"])
    coordinator = await staff(COORDINATOR, Role.coordinator, [])
    statistician = await staff(STATISTICIAN, Role.statistician, [])
    coordinator_actor = Actor.of(coordinator)

    today = clock.now().date()
    treatment = today - timedelta(days=TREATMENT_DAYS_AGO)
    enrolled_at = clock.now() - timedelta(days=TREATMENT_DAYS_AGO + 7)
    enrolled_on = enrolled_at.date()
    plan = {
        # key: (subject, site, arm, sex, age in years at enrolment, kg, cm, consent by)
        "child": ("MS-001", "LJU", "MSC", Sex.female, 7, 24.0, 122.0, ParticipantOrGuardian.guardian),
        "teen": ("MS-002", "LJU", "CTL", Sex.male, 15, 55.0, 168.0, ParticipantOrGuardian.guardian),
        "adult": ("MS-003", "MB", "MSC", Sex.male, 26, 72.0, 178.0, ParticipantOrGuardian.participant),
    }
    participants: dict[str, Participant] = {}
    for key, (subject, site, arm, sex, age, kg, cm, consent_by) in plan.items():
        enrolled = await enrolment_service.enrol(
            session=session,
            actor=coordinator_actor,
            study_id=study.id,
            enrolment=enrolment_service.Enrolment(
                subject_code=subject,
                site_code=site,
                arm_code=arm,
                sex=sex,
                birth_date=_years_ago(enrolled_on, age, 120),
                enrolled_at=enrolled_at,
                treatment_date=treatment,
                timezone="Europe/Ljubljana",
                weight_kg=kg,
                height_cm=cm,
                diagnosis_date=enrolled_on - timedelta(weeks=4),
                consent=enrolment_service.Consent(consent_by, enrolled_on, "2.0"),
            ),
            context=context,
        )
        participants[key] = enrolled.participant

    async def onboard(
        participant: Participant, role: Role, login: DemoLogin, relationship: str | None
    ) -> User:
        # the real path a phone takes: a coordinator's invitation, redeemed with the person's own e-mail
        issued = await invitation_service.create_invitation(
            session=session,
            actor=coordinator_actor,
            participant=participant,
            role=role,
            relationship=relationship,
            context=context,
        )
        return await invitation_service.redeem(
            session=session, code=issued.code, email=login.email, password=login.password, context=context
        )

    guardian = await onboard(participants["child"], Role.guardian, GUARDIAN, "mother")
    await onboard(participants["teen"], Role.participant, TEEN, None)
    await onboard(participants["adult"], Role.participant, ADULT, None)
    return DemoPeople(
        study=study,
        participants=participants,
        guardian=guardian,
        clinician=clinician,
        coordinator=coordinator,
        statistician=statistician,
        admin=admin,
    )


async def demo_present(*, session: AsyncSession) -> bool:
    result = await session.execute(select(Study.id).where(col(Study.code) == STUDY_CODE))
    return result.first() is not None
