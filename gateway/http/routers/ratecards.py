"""/v1/ratecards: publish a rate card version (platform admins), list and read them (every caller).

Prices are public: every authenticated caller of every tenant reads every
version (the gateway's `RateCards` read model, folded from EVT). Publishing
sends `PublishRateCard` (aggregate `ratecard`, id `default`, tenant
`_platform`) and answers `202 {id: version, status: "published", link}` once
this gateway's read model holds it (read-your-writes), or "pending".

The body is the command's fields as JSON or YAML (`bodies.read_document`);
a wrong value answers 422 naming its path, including the paths the price
checks name inside their message (`gpu_prices.H100.tiers[1].up_to`). Rules:
a version already published answers 409 (published prices never change: a
correction is a new version), whatever its content; the domain's own refusals
(a version out of sequence, an `effective_from` not later than the previous
card's, a card without a price) come back from the dead letter as 422/409
with their field. `?dry_run=true` runs the same checks, including the
domain's decision against the cards this gateway knows, and answers 200
without publishing. With an `Idempotency-Key`, a retry of a publish that was
applied answers 202 again instead of 409.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from domains.identity.principal import Principal
from domains.metering import ratecard as rc
from gateway.http import bodies
from gateway.http.asof import as_of_now
from gateway.http.auth import credited, permitted
from gateway.http.commands import accepted, already_applied, execute
from gateway.http.docs import SPEC_UPLOAD, errors
from gateway.http.errors import ApiError, Conflict, Invalid, from_validation, missing
from gateway.http.idempotency import key_header
from gateway.http.models import Accepted, Page
from gateway.http.models.billing import RateCardChecked, RateCardOut
from gateway.http.pages import page, page_query
from gateway.http.routers.billing_access import platform_admin
from gateway.http.services import Services
from projections.registry.paging import InvalidQuery, decode_cursor, encode_cursor
from schemas import PLATFORM_TENANT
from schemas.metering import PublishRateCard, RateCardPublished

RATECARD_ID = "default"  # bus.control.deciders.RATECARD_ID: one ratecard aggregate for the platform
KEY = key_header("publish")
_PATH_IN_MESSAGE = re.compile(r"^((?:[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*): ")


def link(version: int) -> str:
    return f"/v1/ratecards/{version}"


def card_out(card: RateCardPublished, in_force: RateCardPublished | None) -> dict:
    data = card.model_dump(mode="json")
    return {**data, "in_force": in_force is not None and in_force.version == card.version, "link": link(card.version)}


def invalid(exc: ValidationError) -> Invalid:
    """422 with every problem; a message that starts with a path (`tiers[1].up_to: ...`) extends the field's
    (the schemas' model validators name the field they check that way)."""
    problems = []
    for p in from_validation(exc).extra["problems"]:
        path, message = p["path"], p["message"]
        if (m := _PATH_IN_MESSAGE.match(message)) is not None:
            inner = m[1]
            path = f"{path}{inner}" if inner.startswith("[") or not path else f"{path}.{inner}"
            message = message[m.end():]
        problems.append((path, message))
    return Invalid(problems)


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/ratecards", tags=["ratecards"])
    paging = page_query(s.settings)

    def cards():
        known = getattr(s, "ratecards", None)
        if known is None:
            raise ApiError("rate cards are not available on this gateway", code="billing_unavailable", status=503)
        return known

    @r.post("", status_code=202, response_model=Accepted, summary="Publish a rate card version (platform admins)",
            responses={**errors(*SPEC_UPLOAD), 200: {"model": RateCardChecked, "description": "?dry_run=true"}},
            openapi_extra=bodies.spec_schema(PublishRateCard, "the rate card: version, effective_from, prices"))
    async def publish(request: Request, principal: Principal = Depends(platform_admin("publish rate cards")),
                      dry_run: bool = Query(False, description="check only: validate and decide, publish nothing"),
                      idempotency_key: str | None = KEY):
        data = bodies.mapping(await bodies.read_document(request), "rate card")
        try:
            command = PublishRateCard.model_validate(data)
        except ValidationError as exc:
            raise invalid(exc) from None
        known = cards()
        version = command.version
        ids = s.idempotency.ids("publish_rate_card", PLATFORM_TENANT, principal.user_id, idempotency_key,
                                command.model_dump_json(), object_id=str(version))
        on = (PLATFORM_TENANT, "ratecard", RATECARD_ID)
        if ids.keyed and not dry_run and await already_applied(s, ids.command_id, on):
            return accepted(str(version), "published", link(version))
        if known.version(version) is not None:
            raise Conflict(f"rate card v{version} is already published; prices never change: publish "
                           f"v{max(known.cards) + 1}", field="version", reason="rate_card_version_conflict")
        if dry_run:  # the domain's decision against the cards this gateway has applied (DomainError -> 4xx)
            state = rc.RateCardState(tuple(known.cards[v] for v in sorted(known.cards)))
            rc.decide(state, command, now=s.clock())
            checked = {"valid": True, "version": version, "card": command.model_dump(mode="json")}
            return JSONResponse(checked, status_code=200)
        outcome = await execute(s, credited(principal), PLATFORM_TENANT, command, ids.command_id)
        return accepted(str(version), "published" if known.version(version) else None, link(version), outcome)

    @r.get("", response_model=Page[RateCardOut], summary="List rate card versions (newest first)",
           responses=errors(400, 503))
    async def list_cards(_=Depends(permitted("usage:read")), p=Depends(paging)) -> dict:
        known = cards()
        after = decode_cursor(p.cursor)
        if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
            raise InvalidQuery("cursor", "malformed cursor")
        versions = [v for v in sorted(known.cards, reverse=True) if after is None or v < after[0]]
        chosen = versions[:p.page_size]
        in_force = known.at(as_of_now(s.clock))
        more = len(versions) > p.page_size
        return page([card_out(known.cards[v], in_force) for v in chosen],
                    encode_cursor((chosen[-1],)) if more else None)

    @r.get("/{version}", response_model=RateCardOut, summary="Get one rate card version", responses=errors(404, 503))
    async def get_card(version: int = Path(description="the card's version (1, 2, ...)"),
                       _=Depends(permitted("usage:read"))) -> dict:
        known = cards()
        card = known.version(version)
        if card is None:
            raise missing("rate card", str(version))
        return card_out(card, known.at(as_of_now(s.clock)))

    return r
