"""Webhooks: admins register endpoints; whoever may see an endpoint reads its delivery log and
replays it (a unit its own, the marketplace's account the marketplace's)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from edge.deps import NowDep, PrincipalDep
from edge.unit_of_work import SessionDep
from mvq.webhooks import service
from mvq.webhooks.models import WebhookEndpoint
from mvq.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    ReplayIn,
    ReplayOut,
    SecretOut,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        unit_id=endpoint.unit_id,
        events=endpoint.events,
        allow_private_network=endpoint.allow_private_network,
        enabled=endpoint.disabled_at is None,
        created_at=endpoint.created_at,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


@router.post("", status_code=201, response_model=SecretOut)
def register(
    body: EndpointIn,
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
) -> SecretOut:
    issued = service.register(
        session,
        admin=principal,
        url=body.url,
        events=list(body.events),
        unit_id=body.unit_id,
        allow_private_network=body.allow_private_network,
        now=now,
    )
    return SecretOut(id=issued.endpoint.id, secret=issued.secret)


@router.get("", response_model=list[EndpointOut])
def list_endpoints(principal: PrincipalDep, session: SessionDep) -> list[EndpointOut]:
    return [endpoint_out(e) for e in service.visible(session, viewer=principal)]


@router.get("/{endpoint_id}", response_model=EndpointOut)
def get_endpoint(endpoint_id: str, principal: PrincipalDep, session: SessionDep) -> EndpointOut:
    return endpoint_out(service.get_visible(session, viewer=principal, endpoint_id=endpoint_id))


@router.post("/{endpoint_id}/rotate", response_model=SecretOut)
def rotate(
    endpoint_id: str,
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
) -> SecretOut:
    issued = service.rotate(session, admin=principal, endpoint_id=endpoint_id, now=now)
    return SecretOut(
        id=issued.endpoint.id,
        secret=issued.secret,
        previous_secret_expires_at=issued.endpoint.previous_secret_expires_at,
    )


@router.delete("/{endpoint_id}", status_code=204)
def disable(
    endpoint_id: str,
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
) -> Response:
    service.disable(session, admin=principal, endpoint_id=endpoint_id, now=now)
    return Response(status_code=204)


@router.get("/{endpoint_id}/deliveries", response_model=list[DeliveryOut])
def deliveries(
    endpoint_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    logged = service.delivery_log(session, viewer=principal, endpoint_id=endpoint_id, limit=limit)
    return [
        DeliveryOut(
            event_id=entry.delivery.event_id,
            type=entry.event_type,
            status=entry.delivery.status,
            next_attempt_at=entry.delivery.next_attempt_at
            if entry.delivery.status == "pending"
            else None,
            delivered_at=entry.delivery.delivered_at,
            attempts=[
                AttemptOut(
                    attempted_at=a.attempted_at,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                    outcome=a.outcome,
                    next_attempt_at=a.next_attempt_at,
                )
                for a in entry.attempts
            ],
        )
        for entry in logged
    ]


@router.post("/{endpoint_id}/replay", status_code=202, response_model=ReplayOut)
def replay(
    endpoint_id: str, body: ReplayIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> ReplayOut:
    count = service.replay(session, viewer=principal, endpoint_id=endpoint_id,
                           from_event_id=body.from_event_id, now=now)  # fmt: skip
    return ReplayOut(replayed=count)
