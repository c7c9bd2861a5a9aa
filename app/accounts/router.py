"""HTTP routes of the accounts package: parse, authorize, call the service, shape."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response, status

from app.accounts import agencies, api_keys, brokers, members, queries, service
from app.accounts import totp as totp_service
from app.accounts.auth import (
    ApiKeyManage,
    BrokerRead,
    BrokerWrite,
    MemberRead,
    MemberWrite,
    OrganizationRead,
    PersonOrganizationWrite,
    PersonRead,
    PlatformStaff,
)
from app.accounts.identifiers import nature_of
from app.accounts.models import (
    BrokerProfile,
    BrokerStatus,
    Membership,
    Organization,
    OrganizationKind,
    User,
    VerificationStatus,
)
from app.accounts.schemas import (
    AgencyRecognitionCreate,
    AgencyRecognitionOut,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    BrokerCreate,
    BrokerOut,
    BrokerStatusChange,
    BrokerUpdate,
    Me,
    MemberAdd,
    MemberOut,
    MemberUpdate,
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
    PlatformRolesUpdate,
    RefreshRequest,
    TokenPair,
    TotpCode,
    TotpEnrolmentOut,
    UserCreate,
    UserOut,
    VerificationDecision,
)
from app.core.auth import PlatformRole, address_of
from app.core.clock import Now, Wall
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.idempotency import IdempotencyOf
from app.core.pagination import Page, PageParams, page_params
from app.core.reads import Reads

Pagination = Annotated[PageParams, Depends(page_params)]
AUTHENTICATED = problem_responses(401, 403, 422)


async def _token_settings(request: Request) -> service.TokenSettings:
    tokens: service.TokenSettings = request.app.state.token_settings
    return tokens


Tokens = Annotated[service.TokenSettings, Depends(_token_settings)]

auth_router = APIRouter(prefix="/v1/auth", tags=["auth"])
router = APIRouter(prefix="/v1", responses=AUTHENTICATED)


# --- auth --------------------------------------------------------------------------------


@auth_router.post(
    "/token",
    response_model=TokenPair,
    summary="Sign in (OAuth2 password grant)",
    responses=problem_responses(400, 401, 422, 429),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "example": {
                        "grant_type": "password",
                        "username": "zhang.ming@example.cn",
                        "password": "Correct-horse-9",
                        "scope": "listings:read bids:write",
                    }
                }
            }
        }
    },
)
async def issue_token(
    request: Request,
    session: Session,
    wall: Wall,
    tokens: Tokens,
    username: Annotated[str, Form(description="Your email address.", max_length=254)],
    password: Annotated[str, Form(max_length=256)],
    grant_type: Annotated[str, Form(pattern="^password$")] = "password",
    scope: Annotated[str, Form(description="Space-separated scopes; all when empty.")] = "",
    totp: Annotated[
        str | None,
        Form(
            description="Platform staff: a code from your authenticator app (6 digits) or a "
            "recovery code; without it a staff sign-in gets no `platform` scope.",
            pattern=r"^([0-9]{6}|[0-9a-f]{5}-[0-9a-f]{5})$",
        ),
    ] = None,
) -> TokenPair:
    """Exchange email and password for a short-lived access token and a refresh token."""
    return await service.sign_in(
        session,
        email=username,
        password=password,
        requested_scopes=scope.split(),
        now=wall,
        tokens=tokens,
        throttle=request.app.state.sign_in_throttle,
        address=address_of(request),
        sealer=request.app.state.totp_sealer,
        second_factor_code=totp,
        staff_need_second_factor=request.app.state.settings.staff_need_second_factor,
    )


@auth_router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Refresh the access token",
    responses=problem_responses(400, 422, 429),
)
async def refresh(
    request: Request, session: Session, wall: Wall, tokens: Tokens, body: RefreshRequest
) -> TokenPair:
    """Spend a refresh token for a new pair. Each refresh token works once; replaying a spent
    one signs out every session descended from the same sign-in."""
    return await service.refresh_tokens(
        session,
        refresh_token=body.refresh_token,
        now=wall,
        tokens=tokens,
        throttle=request.app.state.sign_in_throttle,
        address=address_of(request),
    )


@auth_router.post(
    "/revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out",
    responses=problem_responses(422),
)
async def revoke(session: Session, wall: Wall, body: RefreshRequest) -> Response:
    """Revoke a refresh token and every token rotated from the same sign-in."""
    await service.revoke_refresh_token(session, refresh_token=body.refresh_token, now=wall)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- users -------------------------------------------------------------------------------


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    summary="Sign up",
    tags=["users"],
    responses=problem_responses(409, 422),
)
async def sign_up(session: Session, idempotency: IdempotencyOf, body: UserCreate) -> UserOut:
    """Create a personal account. Join or create an organization afterwards."""
    await idempotency.claim(None)
    user = UserOut.model_validate(await service.register_user(session, body))
    return await idempotency.remember(user, status_code=201)


@router.post(
    "/me/totp",
    response_model=TotpEnrolmentOut,
    summary="Enrol a second factor (TOTP)",
    tags=["users"],
    responses=problem_responses(409),
)
async def enrol_totp(
    request: Request, session: Session, now: Now, caller: PersonRead
) -> TotpEnrolmentOut:
    """A new TOTP secret and ten recovery codes, shown once; confirm with a code
    (`POST /v1/me/totp/confirm`). Platform staff need it for the `platform` scope. Until
    confirmed, each call replaces the last secret, so a retry is harmless; no
    `Idempotency-Key`, which would keep the secret in the replay store."""
    enrolment = await totp_service.enrol(
        session, caller, sealer=request.app.state.totp_sealer, now=now
    )
    return TotpEnrolmentOut(
        secret=enrolment.secret,
        otpauth_uri=enrolment.otpauth_uri,
        recovery_codes=enrolment.recovery_codes,
    )


@router.post(
    "/me/totp/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Confirm the second factor",
    tags=["users"],
    responses=problem_responses(404, 422),
)
async def confirm_totp(
    request: Request, session: Session, now: Now, caller: PersonRead, body: TotpCode
) -> Response:
    """Confirm the enrolment with the code your app shows now; each code works once."""
    await totp_service.confirm(
        session, caller, body.code, sealer=request.app.state.totp_sealer, now=now
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/users/{user_id}/totp",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Reset a person's second factor",
    tags=["users"],
    responses=problem_responses(403, 404, 422),
)
async def reset_totp(
    session: Session, now: Now, caller: PlatformStaff, user_id: uuid.UUID
) -> Response:
    """Platform admins: remove another person's TOTP factor and recovery codes (a lost phone);
    they enrol anew."""
    await totp_service.reset(session, caller, user_id, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=Me, summary="Who am I", tags=["users"])
async def me(request: Request, reads: Reads, caller: PersonRead) -> dict[str, object]:
    """Your account, organizations and roles, staff roles and broker profile."""
    return await queries.describe_me(reads, caller, request.app.state.principals)


@router.put(
    "/users/{user_id}/platform-roles",
    response_model=list[PlatformRole],
    summary="Set a person's platform staff roles",
    tags=["users"],
    responses=problem_responses(404),
)
async def put_platform_roles(
    session: Session, caller: PlatformStaff, user_id: uuid.UUID, body: PlatformRolesUpdate
) -> list[PlatformRole]:
    """Platform admins only: replace the staff roles (reviewer, registrar, finance, admin)."""
    return await service.set_platform_roles(session, caller, user_id, body.roles)


# --- organizations -----------------------------------------------------------------------


def _organization_out(organization: Organization) -> OrganizationOut:
    return OrganizationOut.model_validate(
        {
            **{
                c: getattr(organization, c)
                for c in OrganizationOut.model_fields
                if c not in {"division_name", "nature_code"}
            },
            "division_name": service.division_label(organization.division_code),
            "nature_code": nature_of(organization.kind, organization.nature_code),
        }
    )


@router.post(
    "/organizations",
    response_model=OrganizationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register an organization",
    tags=["organizations"],
    responses=problem_responses(409),
)
async def create_organization(
    session: Session,
    caller: PersonOrganizationWrite,
    idempotency: IdempotencyOf,
    body: OrganizationCreate,
) -> OrganizationOut:
    """Register an enterprise, university, institute or transfer agency. You become its owner;
    it can act on the market once platform staff have verified it."""
    await idempotency.claim(caller)
    organization = _organization_out(await service.create_organization(session, caller, body))
    return await idempotency.remember(organization, status_code=201)


@router.get(
    "/organizations",
    response_model=Page[OrganizationOut],
    summary="List organizations",
    tags=["organizations"],
)
async def list_organizations(
    session: Session,
    caller: OrganizationRead,
    pagination: Pagination,
    kind: OrganizationKind | None = None,
    verification_status: VerificationStatus | None = None,
    division: Annotated[
        str | None,
        Query(pattern=r"^\d{2,6}$", description="Division code prefix, e.g. 15 or 1501."),
    ] = None,
) -> Page[OrganizationOut]:
    """Verified organizations, plus your own and (for staff) every one."""
    rows, cursor = await service.list_organizations(
        session, caller, pagination, kind=kind, status=verification_status, division_prefix=division
    )
    return Page(items=[_organization_out(row) for row in rows], next_cursor=cursor)


@router.get(
    "/organizations/{organization_id}",
    response_model=OrganizationOut,
    summary="Get an organization",
    tags=["organizations"],
    responses=problem_responses(404),
)
async def get_organization(
    session: Session, caller: OrganizationRead, organization_id: uuid.UUID
) -> OrganizationOut:
    """An organization: verified ones are public; a pending or rejected one only to its members
    and staff."""
    return _organization_out(await service.get_organization_for(session, caller, organization_id))


@router.patch(
    "/organizations/{organization_id}",
    response_model=OrganizationOut,
    summary="Change an organization",
    tags=["organizations"],
    responses=problem_responses(404, 409),
)
async def update_organization(
    session: Session,
    caller: PersonOrganizationWrite,
    organization_id: uuid.UUID,
    body: OrganizationUpdate,
) -> OrganizationOut:
    """Owners and admins change the name, division or (before verification) credit code."""
    return _organization_out(
        await service.update_organization(session, caller, organization_id, body)
    )


@router.post(
    "/organizations/{organization_id}/verify",
    response_model=OrganizationOut,
    summary="Verify or reject an organization",
    tags=["organizations"],
    responses=problem_responses(404, 409),
)
async def verify_organization(
    session: Session,
    now: Now,
    caller: PlatformStaff,
    organization_id: uuid.UUID,
    body: VerificationDecision,
) -> OrganizationOut:
    """Platform reviewers confirm a pending organization's identity, or reject it with a note."""
    return _organization_out(
        await service.decide_verification(
            session,
            caller,
            organization_id,
            verify=body.decision == "verify",
            note=body.note,
            now=now,
        )
    )


@router.post(
    "/organizations/{organization_id}/agency-recognitions",
    response_model=AgencyRecognitionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a transfer agency's recognition (认定)",
    tags=["organizations"],
    responses=problem_responses(404),
)
async def recognize_agency(
    session: Session,
    now: Now,
    caller: PlatformStaff,
    idempotency: IdempotencyOf,
    organization_id: uuid.UUID,
    body: AgencyRecognitionCreate,
) -> AgencyRecognitionOut:
    """Platform reviewers record that the region recognized a verified transfer agency
    (自治区认定的技术转移服务机构) for a period: what its post-subsidy (服务方后补助) needs.
    Periods of one agency do not overlap. Send `Idempotency-Key` to retry safely."""
    await idempotency.claim(caller)
    recognition = await agencies.recognize_agency(
        session,
        caller,
        organization_id,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        note=body.note,
        now=now,
    )
    return await idempotency.remember(
        AgencyRecognitionOut.model_validate(recognition), status_code=201
    )


@router.get(
    "/organizations/{organization_id}/agency-recognitions",
    response_model=list[AgencyRecognitionOut],
    summary="A transfer agency's recognitions",
    tags=["organizations"],
    responses=problem_responses(404),
)
async def list_agency_recognitions(
    session: Session, caller: OrganizationRead, organization_id: uuid.UUID
) -> list[AgencyRecognitionOut]:
    """The periods for which the region recognized the agency, the latest first."""
    return [
        AgencyRecognitionOut.model_validate(recognition)
        for recognition in await agencies.recognitions_of(session, caller, organization_id)
    ]


# --- members -----------------------------------------------------------------------------


def _member_out(membership: Membership, user: User) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=membership.role,
        created_at=membership.created_at,
    )


@router.get(
    "/organizations/{organization_id}/members",
    response_model=Page[MemberOut],
    summary="List members",
    tags=["organizations"],
    responses=problem_responses(404),
)
async def list_members(
    session: Session, caller: MemberRead, organization_id: uuid.UUID, pagination: Pagination
) -> Page[MemberOut]:
    """The organization's members and their roles (its members and platform staff)."""
    rows, cursor = await members.list_members(session, caller, organization_id, pagination)
    return Page(items=[_member_out(m, u) for m, u in rows], next_cursor=cursor)


@router.post(
    "/organizations/{organization_id}/members",
    response_model=MemberOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a member",
    tags=["organizations"],
    responses=problem_responses(404, 409),
)
async def add_member(
    session: Session,
    caller: MemberWrite,
    idempotency: IdempotencyOf,
    organization_id: uuid.UUID,
    body: MemberAdd,
) -> MemberOut:
    """Owners and admins add a registered person; only owners grant the owner role."""
    await idempotency.claim(caller)
    member = _member_out(
        *await members.add_member(
            session, caller, organization_id, email=body.email, role=body.role
        )
    )
    return await idempotency.remember(member, status_code=201)


@router.patch(
    "/organizations/{organization_id}/members/{user_id}",
    response_model=MemberOut,
    summary="Change a member's role",
    tags=["organizations"],
    responses=problem_responses(404, 409),
)
async def change_member_role(
    session: Session,
    caller: MemberWrite,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    body: MemberUpdate,
) -> MemberOut:
    """Change a member's role (owners and admins; only owners grant or take the owner role,
    and an organization keeps at least one owner)."""
    return _member_out(
        *await members.change_member_role(session, caller, organization_id, user_id, body.role)
    )


@router.delete(
    "/organizations/{organization_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
    tags=["organizations"],
    responses=problem_responses(404, 409),
)
async def remove_member(
    session: Session, caller: MemberWrite, organization_id: uuid.UUID, user_id: uuid.UUID
) -> Response:
    """Managers remove members; anyone may leave. The last owner stays."""
    await members.remove_member(session, caller, organization_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- API keys ----------------------------------------------------------------------------


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    tags=["api-keys"],
    responses=problem_responses(404),
)
async def create_api_key(
    session: Session,
    now: Now,
    wall: Wall,
    caller: ApiKeyManage,
    idempotency: IdempotencyOf,
    body: ApiKeyCreate,
) -> ApiKeyCreated:
    """Owners and admins make a key for a third-party app acting for their organization.
    The secret is in this response only (and in its replay to the same caller with the same
    `Idempotency-Key` within 24 h)."""
    await idempotency.claim(caller)
    key, secret = await api_keys.create_api_key(session, caller, body, now=now, wall=wall)
    created = ApiKeyCreated.model_validate(
        {**ApiKeyOut.model_validate(key).model_dump(), "key": secret}
    )
    return await idempotency.remember(created, status_code=201)


@router.get(
    "/api-keys",
    response_model=Page[ApiKeyOut],
    summary="List an organization's API keys",
    tags=["api-keys"],
    responses=problem_responses(404),
)
async def list_api_keys(
    session: Session, caller: ApiKeyManage, organization_id: uuid.UUID, pagination: Pagination
) -> Page[ApiKeyOut]:
    """The organization's API keys (owners and admins): name, prefix, scopes, last use. The
    secrets are never shown again."""
    rows, cursor = await api_keys.list_api_keys(session, caller, organization_id, pagination)
    return Page(items=[ApiKeyOut.model_validate(row) for row in rows], next_cursor=cursor)


@router.delete(
    "/api-keys/{key_id}",
    response_model=ApiKeyOut,
    summary="Revoke an API key",
    tags=["api-keys"],
    responses=problem_responses(404),
)
async def revoke_api_key(
    session: Session, now: Now, caller: ApiKeyManage, key_id: uuid.UUID
) -> ApiKeyOut:
    """The key stops working at once."""
    return ApiKeyOut.model_validate(await api_keys.revoke_api_key(session, caller, key_id, now=now))


# --- brokers -----------------------------------------------------------------------------


def _broker_out(profile: BrokerProfile, user: User) -> BrokerOut:
    return BrokerOut(
        id=profile.id,
        user_id=profile.user_id,
        display_name=user.display_name,
        certificate_number=profile.certificate_number,
        level=profile.level,
        agency_id=profile.agency_id,
        status=profile.status,
        status_reason=profile.status_reason,
        created_at=profile.created_at,
    )


@router.post(
    "/brokers",
    response_model=BrokerOut,
    status_code=status.HTTP_201_CREATED,
    summary="Apply as a technology broker",
    tags=["brokers"],
    responses=problem_responses(409),
)
async def create_broker(
    session: Session, caller: BrokerWrite, idempotency: IdempotencyOf, body: BrokerCreate
) -> BrokerOut:
    """Register your 技术经纪人 certificate; platform staff review it before it is active."""
    await idempotency.claim(caller)
    profile = await brokers.create_broker_profile(session, caller, body)
    user = await session.get(User, profile.user_id)
    assert user is not None
    return await idempotency.remember(_broker_out(profile, user), status_code=201)


@router.get("/brokers", response_model=Page[BrokerOut], summary="List brokers", tags=["brokers"])
async def list_brokers(
    session: Session,
    caller: BrokerRead,
    pagination: Pagination,
    agency_id: uuid.UUID | None = None,
    broker_status: Annotated[BrokerStatus | None, Query(alias="status")] = None,
) -> Page[BrokerOut]:
    """Active brokers, plus your own profile, your agency's brokers, or all for staff."""
    rows, cursor = await brokers.list_brokers(
        session, caller, pagination, agency_id=agency_id, status=broker_status
    )
    return Page(items=[_broker_out(p, u) for p, u in rows], next_cursor=cursor)


@router.get(
    "/brokers/{broker_id}",
    response_model=BrokerOut,
    summary="Get a broker",
    tags=["brokers"],
    responses=problem_responses(404),
)
async def get_broker(session: Session, caller: BrokerRead, broker_id: uuid.UUID) -> BrokerOut:
    """A technology broker's profile (技术经纪人): active ones are public; others only to themselves
    and staff."""
    return _broker_out(*await brokers.get_broker_for(session, caller, broker_id))


@router.patch(
    "/brokers/{broker_id}",
    response_model=BrokerOut,
    summary="Change your broker profile",
    tags=["brokers"],
    responses=problem_responses(404, 409),
)
async def update_broker(
    session: Session, caller: BrokerWrite, broker_id: uuid.UUID, body: BrokerUpdate
) -> BrokerOut:
    """A new certificate number or level sends an active profile back to review."""
    return _broker_out(*await brokers.update_broker_profile(session, caller, broker_id, body))


@router.post(
    "/brokers/{broker_id}/status",
    response_model=BrokerOut,
    summary="Activate, suspend or revoke a broker",
    tags=["brokers"],
    responses=problem_responses(404, 409),
)
async def change_broker_status(
    session: Session,
    now: Now,
    caller: PlatformStaff,
    broker_id: uuid.UUID,
    body: BrokerStatusChange,
) -> BrokerOut:
    """Platform reviewers decide; suspending or revoking needs a reason. An illegal change is a
    409 listing the allowed next states."""
    return _broker_out(
        *await brokers.change_broker_status(
            session,
            caller,
            broker_id,
            status=BrokerStatus(body.status),
            reason=body.reason,
            now=now,
        )
    )
