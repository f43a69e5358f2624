"""/healthz (no auth) and /v1/whoami."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from domains.identity.principal import Principal
from gateway.http.auth import anyone
from gateway.http.docs import errors
from gateway.http.models import Health, WhoAmI
from gateway.http.services import Services


def router(s: Services, position) -> APIRouter:
    r = APIRouter(tags=["meta"])

    @r.get("/healthz", response_model=Health, summary="Liveness and read-model position (no auth)",
           responses=errors(auth=False))
    async def healthz() -> dict:
        return {"status": "ok", "position": position()}

    @r.get("/v1/whoami", response_model=WhoAmI, summary="Who the bearer token is", responses=errors(auth=True))
    async def whoami(principal: Principal = Depends(anyone)) -> dict:
        return {"tenant": principal.tenant, "user_id": principal.user_id, "role": principal.role,
                "token_id": principal.token_id, "actor": principal.actor,
                "platform_admin": principal.is_platform_admin}

    return r
