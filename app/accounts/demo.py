"""Demo data: Inner Mongolia organizations, people of every role and brokers.

The organizations' names are illustrative and their credit codes are generated (valid check
characters, not real registrations). Every demo person shares one password, printed on seeding.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import uscc

from app.accounts.models import (
    BrokerLevel,
    BrokerProfile,
    BrokerStatus,
    Membership,
    Organization,
    OrganizationKind,
    PlatformRoleGrant,
    User,
    VerificationStatus,
)
from app.accounts.schemas import UserCreate
from app.accounts.service import register_user
from app.core.auth import MemberRole, PlatformRole
from app.core.clock import Clock
from app.core.db import create_engine, create_sessionmaker
from app.core.security import hash_password

DEMO_PASSWORD = "Demo-2026-techx"
PLATFORM_NAME = "内蒙古自治区技术交易服务平台"

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def demo_credit_code(name: str, division_code: str, kind: OrganizationKind) -> str:
    """A well-formed 统一社会信用代码 derived from the name (stable across runs)."""
    # GB 32100-2015: registration authority + organization type, then the division code.
    authority = {
        OrganizationKind.enterprise: "91",
        OrganizationKind.transfer_agency: "91",
        OrganizationKind.university: "12",
        OrganizationKind.research_institute: "12",
        OrganizationKind.platform: "12",
    }[kind]
    digest = hashlib.sha256(name.encode()).digest()
    body = "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:9])
    stem = authority + division_code + body
    return stem + uscc.calc_check_digit(stem)


@dataclass(frozen=True)
class DemoOrganization:
    key: str
    kind: OrganizationKind
    name: str
    division_code: str
    verified: bool = True


ORGANIZATIONS = [
    DemoOrganization("platform", OrganizationKind.platform, PLATFORM_NAME, "150102"),
    DemoOrganization("imu", OrganizationKind.university, "内蒙古大学", "150105"),
    DemoOrganization("imut", OrganizationKind.university, "内蒙古工业大学", "150102"),
    DemoOrganization("imau", OrganizationKind.university, "内蒙古农业大学", "150105"),
    DemoOrganization("imust", OrganizationKind.university, "内蒙古科技大学", "150203"),
    DemoOrganization(
        "rare_earth_institute",
        OrganizationKind.research_institute,
        "包头稀土新材料研究院",
        "150203",
    ),
    DemoOrganization(
        "mongolian_medicine_institute",
        OrganizationKind.research_institute,
        "内蒙古蒙医药研究所",
        "150502",
    ),
    DemoOrganization(
        "agency", OrganizationKind.transfer_agency, "内蒙古科技成果转化服务中心有限公司", "150105"
    ),
    DemoOrganization(
        "rare_earth", OrganizationKind.enterprise, "包头稀宝永磁材料有限公司", "150207"
    ),
    DemoOrganization(
        "dairy", OrganizationKind.enterprise, "呼和浩特草原乳源乳业科技有限公司", "150123"
    ),
    DemoOrganization("wind", OrganizationKind.enterprise, "乌兰察布风云风电装备有限公司", "150902"),
    DemoOrganization(
        "coal_chemicals", OrganizationKind.enterprise, "鄂尔多斯煤化新材料有限公司", "150627"
    ),
    DemoOrganization(
        "mongolian_medicine", OrganizationKind.enterprise, "通辽蒙药制药有限公司", "150502"
    ),
    DemoOrganization(
        "startup", OrganizationKind.enterprise, "赤峰绿野农牧科技有限公司", "150402", verified=False
    ),
]

# email, display name, organization key, role in it, platform roles, what to try with it
PEOPLE: list[tuple[str, str, str, MemberRole, tuple[PlatformRole, ...], str]] = [
    (
        "admin@techx.demo",
        "平台管理员",
        "platform",
        MemberRole.owner,
        (PlatformRole.admin,),
        "platform admin",
    ),
    (
        "reviewer@techx.demo",
        "审核员 李静",
        "platform",
        MemberRole.member,
        (PlatformRole.reviewer,),
        "reviews listings and organizations",
    ),
    (
        "registrar@techx.demo",
        "登记员 赵刚",
        "platform",
        MemberRole.member,
        (PlatformRole.registrar,),
        "registers contracts",
    ),
    (
        "finance@techx.demo",
        "财务 孙丽",
        "platform",
        MemberRole.member,
        (PlatformRole.finance,),
        "confirms payments",
    ),
    (
        "tto@imu.techx.demo",
        "内大技术转移办 王老师",
        "imu",
        MemberRole.owner,
        (),
        "university owner",
    ),
    ("researcher@imu.techx.demo", "内大 张教授", "imu", MemberRole.member, (), "university member"),
    (
        "tto@imut.techx.demo",
        "工大技术转移办 刘老师",
        "imut",
        MemberRole.owner,
        (),
        "university owner",
    ),
    (
        "tto@imau.techx.demo",
        "农大技术转移办 高老师",
        "imau",
        MemberRole.owner,
        (),
        "university owner",
    ),
    (
        "tto@imust.techx.demo",
        "科大技术转移办 马老师",
        "imust",
        MemberRole.owner,
        (),
        "university owner",
    ),
    (
        "office@ree.techx.demo",
        "稀土研究院 科研处",
        "rare_earth_institute",
        MemberRole.owner,
        (),
        "institute owner",
    ),
    (
        "office@mmi.techx.demo",
        "蒙医药研究所 科研处",
        "mongolian_medicine_institute",
        MemberRole.owner,
        (),
        "institute owner",
    ),
    (
        "head@agency.techx.demo",
        "转化中心 主任",
        "agency",
        MemberRole.owner,
        (),
        "transfer agency owner",
    ),
    (
        "cto@magnet.techx.demo",
        "稀宝永磁 技术总监",
        "rare_earth",
        MemberRole.owner,
        (),
        "enterprise owner",
    ),
    (
        "buyer@magnet.techx.demo",
        "稀宝永磁 采购",
        "rare_earth",
        MemberRole.admin,
        (),
        "enterprise admin",
    ),
    ("rd@dairy.techx.demo", "草原乳源 研发部", "dairy", MemberRole.owner, (), "enterprise owner"),
    ("rd@wind.techx.demo", "风云风电 研发部", "wind", MemberRole.owner, (), "enterprise owner"),
    (
        "rd@coal.techx.demo",
        "煤化新材料 研发部",
        "coal_chemicals",
        MemberRole.owner,
        (),
        "enterprise owner",
    ),
    (
        "rd@mmpharma.techx.demo",
        "通辽蒙药 研发部",
        "mongolian_medicine",
        MemberRole.owner,
        (),
        "enterprise owner",
    ),
    (
        "founder@startup.techx.demo",
        "绿野农牧 创始人",
        "startup",
        MemberRole.owner,
        (),
        "owner of an unverified enterprise",
    ),
    (
        "broker1@agency.techx.demo",
        "技术经纪人 包海",
        "agency",
        MemberRole.member,
        (),
        "broker (senior, active)",
    ),
    (
        "broker2@agency.techx.demo",
        "技术经纪人 其其格",
        "agency",
        MemberRole.member,
        (),
        "broker (junior, awaiting review)",
    ),
]

BROKERS = [
    ("broker1@agency.techx.demo", "NMJJR-2023-0001", BrokerLevel.senior, BrokerStatus.active),
    ("broker2@agency.techx.demo", "NMJJR-2025-0142", BrokerLevel.junior, BrokerStatus.pending),
]


@dataclass(frozen=True)
class Credential:
    email: str
    password: str
    what: str


@dataclass(frozen=True)
class SeededAccounts:
    credentials: list[Credential]
    organizations: dict[str, uuid.UUID]
    """Demo organization key → id."""
    reviewer_id: uuid.UUID


async def seed_accounts(session: AsyncSession, now: datetime) -> SeededAccounts:
    organizations: dict[str, Organization] = {}
    for demo in ORGANIZATIONS:
        organization = Organization(
            kind=demo.kind,
            name=demo.name,
            credit_code=demo_credit_code(demo.name, demo.division_code, demo.kind),
            division_code=demo.division_code,
            verification_status=(
                VerificationStatus.verified if demo.verified else VerificationStatus.pending
            ),
            verified_at=now if demo.verified else None,
        )
        session.add(organization)
        organizations[demo.key] = organization
    await session.flush()

    password_hash = hash_password(DEMO_PASSWORD)
    users: dict[str, User] = {}
    credentials = []
    for email, name, organization_key, role, platform_roles, what in PEOPLE:
        user = User(email=email, password_hash=password_hash, display_name=name)
        session.add(user)
        await session.flush()
        users[email] = user
        session.add(
            Membership(
                organization_id=organizations[organization_key].id, user_id=user.id, role=role
            )
        )
        for platform_role in platform_roles:
            session.add(PlatformRoleGrant(user_id=user.id, role=platform_role))
        credentials.append(
            Credential(email, DEMO_PASSWORD, f"{what} — {organizations[organization_key].name}")
        )
    for email, certificate, level, status in BROKERS:
        session.add(
            BrokerProfile(
                user_id=users[email].id,
                certificate_number=certificate,
                level=level,
                agency_id=organizations["agency"].id,
                status=status,
            )
        )
    await session.flush()
    return SeededAccounts(
        credentials,
        {key: organization.id for key, organization in organizations.items()},
        users["reviewer@techx.demo"].id,
    )


async def create_platform_admin(
    database_url: str, email: str, password: str, name: str, clock: Clock
) -> str:
    """A platform admin, owner of the platform organization (created when missing)."""
    data = UserCreate(email=email, password=password, display_name=name)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine, clock)() as session, session.begin():
            platform = await session.scalar(
                select(Organization).where(Organization.kind == OrganizationKind.platform)
            )
            if platform is None:
                platform = Organization(
                    kind=OrganizationKind.platform,
                    name=PLATFORM_NAME,
                    credit_code=demo_credit_code(
                        PLATFORM_NAME, "150102", OrganizationKind.platform
                    ),
                    division_code="150102",
                    verification_status=VerificationStatus.verified,
                    verified_at=clock.now(),
                )
                session.add(platform)
            user = await register_user(session, data)
            await session.flush()
            session.add(
                Membership(organization_id=platform.id, user_id=user.id, role=MemberRole.owner)
            )
            session.add(PlatformRoleGrant(user_id=user.id, role=PlatformRole.admin))
            return str(user.id)
    finally:
        await engine.dispose()
