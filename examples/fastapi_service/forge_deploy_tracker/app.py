"""The FastAPI app: a Forge remote that tracks deployments per Jira/Confluence site.

Forge calls the remote with the app system token in ``x-forge-oauth-system``; every endpoint
forwards it to Forge storage as a bearer token (401 without it). One ``httpx.AsyncClient``
serves the whole app: it is opened in the lifespan and closed with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from . import deployments
from .storage import (
    DEFAULT_BASE_URL,
    Backoff,
    ForgeStorage,
    KeyNotFound,
    RateLimited,
    Sleep,
    StorageError,
)


class Secret(BaseModel):
    secret: str


def storage(
    request: Request,
    x_forge_oauth_system: Annotated[str | None, Header()] = None,
) -> ForgeStorage:
    """Forge storage as the caller: the system token Forge sent with this request."""
    if not x_forge_oauth_system:
        raise HTTPException(401, "x-forge-oauth-system header is required")
    state = request.app.state
    return ForgeStorage(state.http, x_forge_oauth_system, **state.storage_options)


Storage = Annotated[ForgeStorage, Depends(storage)]


def create_app(
    *,
    base_url: str = DEFAULT_BASE_URL,
    backoff: Backoff = Backoff(),  # noqa: B008 - frozen dataclass, safe as default
    sleep: Sleep | None = None,
) -> FastAPI:
    """The app; ``sleep`` replaces ``asyncio.sleep`` between retries (tests pass a recorder)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=10) as http:
            app.state.http = http
            yield

    app = FastAPI(title="Deploy tracker", lifespan=lifespan)
    app.state.storage_options = {"base_url": base_url, "backoff": backoff}
    if sleep is not None:
        app.state.storage_options["sleep"] = sleep

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
        body = {"error": "storage is rate-limited", "code": exc.code}
        return JSONResponse(body, status_code=503, headers=headers)

    @app.exception_handler(StorageError)
    async def storage_failed(request: Request, exc: StorageError) -> JSONResponse:
        body = {"error": "storage failed", "code": exc.code, "status": exc.status}
        return JSONResponse(body, status_code=502)

    # -- site configuration: one KVS value per site ------------------------------------
    @app.get("/config/{site}")
    async def get_config(site: str, store: Storage) -> dict[str, Any]:
        try:
            config = await store.get(f"config:{site}")
        except KeyNotFound:
            raise HTTPException(404, f"no configuration for {site}") from None
        return {"site": site, "config": config}

    @app.put("/config/{site}")
    async def put_config(site: str, config: dict[str, Any], store: Storage) -> dict[str, Any]:
        await store.set(f"config:{site}", config)
        return {"site": site, "config": config}

    # -- the webhook signing secret: a Forge secret, never echoed ----------------------
    @app.put("/sites/{site}/webhook-secret", status_code=204)
    async def put_secret(site: str, body: Secret, store: Storage) -> Response:
        await store.set(f"webhook-secret:{site}", body.secret, secret=True)
        return Response(status_code=204)

    @app.get("/sites/{site}/webhook-secret")
    async def get_secret(site: str, store: Storage) -> dict[str, Any]:
        try:
            secret = await store.get(f"webhook-secret:{site}", secret=True)
        except KeyNotFound:
            return {"configured": False, "hint": None}
        return {"configured": True, "hint": "****" + str(secret)[-4:]}

    # -- deployments: custom-entity records --------------------------------------------
    @app.post("/sites/{site}/deployments")
    async def import_deployments(
        site: str, body: list[deployments.DeploymentIn], store: Storage
    ) -> dict[str, Any]:
        failed = await deployments.import_all(store, site, body)
        return {"imported": len(body) - len(failed), "failed": failed}

    @app.get("/sites/{site}/deployments")
    async def list_deployments(
        site: str, store: Storage, since: int | None = None, page_size: int = 20
    ) -> dict[str, Any]:
        found = await deployments.newest_first(store, site, since=since, page_size=page_size)
        return {"site": site, "deployments": found}

    @app.get("/sites/{site}/deployments/{deployment_id}")
    async def get_deployment(site: str, deployment_id: str, store: Storage) -> dict[str, Any]:
        try:
            return {"deployment": await deployments.get(store, site, deployment_id)}
        except KeyNotFound:
            raise HTTPException(404, f"no deployment {deployment_id}") from None

    @app.post("/sites/{site}/deployments/{deployment_id}/promote")
    async def promote(site: str, deployment_id: str, store: Storage) -> Any:
        try:
            release = await deployments.promote(store, site, deployment_id)
        except KeyNotFound:
            raise HTTPException(404, f"no deployment {deployment_id}") from None
        except deployments.NotPromotable as exc:
            body = {"error": str(exc), "code": "CONDITIONAL_CHECK_FAILED"}
            return JSONResponse(body, status_code=409)
        return {"release": release}

    @app.get("/sites/{site}/release")
    async def get_release(site: str, store: Storage) -> dict[str, Any]:
        try:
            return {"release": await store.get(f"release:{site}")}
        except KeyNotFound:
            raise HTTPException(404, f"nothing released on {site}") from None

    return app
