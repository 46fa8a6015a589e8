"""The Flask app: per-site settings, a per-site API token and the audit log.

Forge invokes the remote with the app system token in the ``x-forge-oauth-system``
header; every endpoint forwards it to Forge storage as a bearer token.

At Forge the remote runs as ``create_app(app_id=<the manifest's app.id>)``: then every request
must carry a valid Forge Invocation Token (checked against Forge's JWKS, ``invocations.py``;
401 otherwise), and storage calls use the token of the installation the FIT names, kept per
installation in ``tokens``. Without ``app_id`` the system token header alone is trusted, which
is what the tests of storage behaviour use.

======================================  ================================================
``GET    /settings/<site>``             200 the settings, 404 when none
``PUT    /settings/<site>``             200, overwrites; the audit entry keeps the old value
``POST   /settings/<site>``             201, create only; 409 when settings exist
``DELETE /settings/<site>``             204, 404 when none
``PUT    /settings/<site>/api-token``   204, stores ``{"token": ...}`` as a Forge secret
``GET    /settings/<site>/api-token``   200 ``{"configured", "hint"}`` (never the token)
``DELETE /settings/<site>/api-token``   204, 404 when none
``GET    /audit/<site>?limit=&cursor=`` 200 ``{"entries", "cursor"}``, oldest first
``GET    /rollouts/<site>?min=&max=``   200 ``{"site", "rollouts"}``, widest first; also
                                        ``above=``, ``enabled=``, ``owner=``
``GET    /rollouts/<site>/<flag>``      200 the rollout, 404 when none
``PUT    /rollouts/<site>/<flag>``      200; 400 ``INVALID_ENTITY_VALUE`` for a bad field
``DELETE /rollouts/<site>/<flag>``      204, 404 when none
``GET    /flags/<flag>/sites?enabled=`` 200 ``{"flag", "rollouts"}``, by site
``GET    /preferences/<account>``       200 ``{"accountId", "preferences", "stored"}``
``PATCH  /preferences/<account>``       200, merges; 400 when Forge rejects the value
``DELETE /preferences/<account>``       204
``GET    /preferences``                 200 ``{"preferences": {account: ...}}``
``GET    /me/preferences``              the caller's (``x-forge-oauth-user``) preferences
======================================  ================================================

Settings, API tokens, the audit log and rollouts use the REST API (rollouts are a custom
entity); preferences are a legacy module on the GraphQL storage API.

Storage failures become 502 (or 503 when Forge kept rate-limiting after every retry).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask, Response, g, jsonify, request

from .audit import AuditLog
from .forge_storage_client import (
    DEFAULT_BASE_URL,
    ForgeStorageClient,
    InvalidEntityValue,
    KeyConflict,
    RetryPolicy,
    StorageError,
    StorageUnavailable,
)
from .graphql_storage import GraphQLStorageClient
from .invocations import FitVerifier, InstallationTokens, InvalidInvocation
from .preferences import PreferencesStore, current_account_id
from .rollouts import RolloutStore

TOKEN_HEADER = "x-forge-oauth-system"
USER_TOKEN_HEADER = "x-forge-oauth-user"
SITE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
FLAG = re.compile(r"[a-z0-9][a-z0-9._-]{0,59}\Z")
ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_-]{0,127}\Z")


def settings_key(site: str) -> str:
    return f"settings:{site}"


def api_token_key(site: str) -> str:
    return f"api-token:{site}"


class HttpError(Exception):
    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error, **extra}


def create_app(
    forge_base_url: str = DEFAULT_BASE_URL,
    *,
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe as default
    sleep: Callable[[float], Any] = time.sleep,
    app_id: str | None = None,
    tokens: InstallationTokens | None = None,
) -> Flask:
    """The service. ``retry`` and ``sleep`` are passed to the storage client; with ``app_id``
    every request must be a Forge invocation of that app, and ``tokens`` keeps each
    installation's newest system token (``app.extensions["installation_tokens"]``)."""
    app = Flask(__name__)
    session = requests.Session()
    verifier = FitVerifier(app_id) if app_id is not None else None
    installation_tokens = tokens if tokens is not None else InstallationTokens()
    app.extensions["installation_tokens"] = installation_tokens

    @app.before_request
    def verify_invocation() -> None:
        if verifier is None:
            return
        try:
            invocation = verifier.verify(request.headers)
        except InvalidInvocation as exc:
            raise HttpError(401, "not a valid Forge invocation", reason=str(exc)) from None
        installation_tokens.remember(invocation)
        g.forge_installation = invocation.installation_id

    def token(header: str = TOKEN_HEADER) -> str:
        if verifier is not None and header == TOKEN_HEADER:
            # The invocation's installation's token: never another installation's.
            return installation_tokens.token_for(g.forge_installation)
        value = request.headers.get(header, "").strip()
        if not value:
            raise HttpError(401, f"missing {header} header")
        return value

    def storage() -> ForgeStorageClient:
        return ForgeStorageClient(
            token(), base_url=forge_base_url, session=session, retry=retry, sleep=sleep
        )

    def graphql(header: str = TOKEN_HEADER) -> GraphQLStorageClient:
        return GraphQLStorageClient(
            token(header), base_url=forge_base_url, session=session, retry=retry, sleep=sleep
        )

    def checked(site: str) -> str:
        if not SITE.match(site):
            raise HttpError(400, "invalid site name", site=site)
        return site

    def matching(pattern: re.Pattern[str], what: str, value: str) -> str:
        if not pattern.match(value):
            raise HttpError(400, f"invalid {what}", **{what.replace(" ", "_"): value})
        return value

    def int_arg(name: str) -> int | None:
        value = request.args.get(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise HttpError(400, f"{name} must be an integer") from None

    def bool_arg(name: str) -> bool | None:
        value = request.args.get(name)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise HttpError(400, f"{name} must be true or false")
        return value == "true"

    def json_object() -> dict[str, Any]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise HttpError(400, "the body must be a JSON object")
        return body

    # -- settings ----------------------------------------------------------------------
    @app.get("/settings/<site>")
    def get_settings(site: str) -> Any:
        value = storage().get(settings_key(checked(site)))
        if value is None:
            raise HttpError(404, "no settings for this site", site=site)
        return {"site": site, "settings": value}

    @app.put("/settings/<site>")
    def put_settings(site: str) -> Any:
        client, settings = storage(), json_object()
        previous = client.set(settings_key(checked(site)), settings, return_previous=True)
        AuditLog(client).record(
            site, "settings.updated", {"previous": previous, "current": settings}
        )
        return {"site": site, "settings": settings, "previous": previous}

    @app.post("/settings/<site>")
    def create_settings(site: str) -> Any:
        client, settings = storage(), json_object()
        try:
            client.set(settings_key(checked(site)), settings, create_only=True)
        except KeyConflict as exc:
            raise HttpError(409, "settings already exist", code=exc.code) from None
        AuditLog(client).record(site, "settings.created", {"current": settings})
        return {"site": site, "settings": settings}, 201

    @app.delete("/settings/<site>")
    def delete_settings(site: str) -> Any:
        client = storage()
        if not client.delete(settings_key(checked(site))):
            raise HttpError(404, "no settings for this site", site=site)
        AuditLog(client).record(site, "settings.deleted")
        return "", 204

    # -- the site's API token (a Forge secret) -----------------------------------------
    @app.put("/settings/<site>/api-token")
    def put_api_token(site: str) -> Any:
        client, body = storage(), json_object()
        token = body.get("token")
        if not isinstance(token, str) or len(token) < 8:
            raise HttpError(400, "token must be a string of at least 8 characters")
        client.set_secret(api_token_key(checked(site)), token)
        AuditLog(client).record(site, "api-token.set")  # never the token itself
        return "", 204

    @app.get("/settings/<site>/api-token")
    def get_api_token(site: str) -> Any:
        token = storage().get_secret(api_token_key(checked(site)))
        if token is None:
            return {"configured": False, "hint": None}
        return {"configured": True, "hint": "****" + str(token)[-4:]}

    @app.delete("/settings/<site>/api-token")
    def delete_api_token(site: str) -> Any:
        client = storage()
        if not client.delete_secret(api_token_key(checked(site))):
            raise HttpError(404, "no API token for this site", site=site)
        AuditLog(client).record(site, "api-token.deleted")
        return "", 204

    # -- audit log ---------------------------------------------------------------------
    @app.get("/audit/<site>")
    def list_audit(site: str) -> Any:
        limit = request.args.get("limit", default=20, type=int)
        if limit is None or not 1 <= limit <= 100:
            raise HttpError(400, "limit must be between 1 and 100")
        entries, cursor = AuditLog(storage()).page(
            checked(site), limit=limit, cursor=request.args.get("cursor")
        )
        return {"entries": entries, "cursor": cursor}

    # -- feature-flag rollouts (a custom entity, REST entity/*) ---------------------------
    @app.get("/rollouts/<site>")
    def list_rollouts(site: str) -> Any:
        rollouts = RolloutStore(storage()).for_site(
            checked(site),
            min_percentage=int_arg("min"),
            max_percentage=int_arg("max"),
            above=int_arg("above"),
            enabled=bool_arg("enabled"),
            owner=request.args.get("owner"),
        )
        return {"site": site, "rollouts": rollouts}

    @app.get("/rollouts/<site>/<flag>")
    def get_rollout(site: str, flag: str) -> Any:
        rollout = RolloutStore(storage()).get(checked(site), matching(FLAG, "flag", flag))
        if rollout is None:
            raise HttpError(404, "no rollout of this flag on this site", site=site, flag=flag)
        return {"rollout": rollout}

    @app.put("/rollouts/<site>/<flag>")
    def put_rollout(site: str, flag: str) -> Any:
        client, fields = storage(), json_object()
        try:
            rollout = RolloutStore(client).save(checked(site), matching(FLAG, "flag", flag), fields)
        except InvalidEntityValue as exc:
            raise HttpError(400, "invalid rollout", code=exc.code, message=exc.message) from None
        return {"rollout": rollout}

    @app.delete("/rollouts/<site>/<flag>")
    def delete_rollout(site: str, flag: str) -> Any:
        if not RolloutStore(storage()).delete(checked(site), matching(FLAG, "flag", flag)):
            raise HttpError(404, "no rollout of this flag on this site", site=site, flag=flag)
        return "", 204

    @app.get("/flags/<flag>/sites")
    def sites_with_flag(flag: str) -> Any:
        rollouts = RolloutStore(storage()).sites_with(
            matching(FLAG, "flag", flag), enabled=bool_arg("enabled")
        )
        return {"flag": flag, "rollouts": rollouts}

    # -- user preferences (legacy module on the GraphQL storage API) ---------------------
    def account(account_id: str) -> str:
        return matching(ACCOUNT_ID, "account id", account_id)

    @app.get("/preferences/<account_id>")
    def get_preferences(account_id: str) -> Any:
        preferences, stored = PreferencesStore(graphql()).get(account(account_id))
        return {"accountId": account_id, "preferences": preferences, "stored": stored}

    @app.patch("/preferences/<account_id>")
    def patch_preferences(account_id: str) -> Any:
        store, changes = PreferencesStore(graphql()), json_object()
        try:
            preferences = store.update(account(account_id), changes)
        except StorageError as exc:
            if exc.status != 400:
                raise
            raise HttpError(
                400, "preferences rejected", code=exc.code, message=exc.message
            ) from None
        return {"accountId": account_id, "preferences": preferences}

    @app.delete("/preferences/<account_id>")
    def delete_preferences(account_id: str) -> Any:
        PreferencesStore(graphql()).reset(account(account_id))
        return "", 204

    @app.get("/preferences")
    def all_preferences() -> Any:
        return {"preferences": PreferencesStore(graphql()).everyone()}

    @app.get("/me/preferences")
    def my_preferences() -> Any:
        # Who is asking: the user's token, Atlassian's GraphQL API (not storage).
        account_id = current_account_id(graphql(USER_TOKEN_HEADER))
        # Their preferences: the app system token, the GraphQL storage API.
        preferences, stored = PreferencesStore(graphql()).get(account(account_id))
        return {"accountId": account_id, "preferences": preferences, "stored": stored}

    # -- errors ------------------------------------------------------------------------
    @app.errorhandler(HttpError)
    def http_error(exc: HttpError) -> tuple[Response, int]:
        return jsonify(exc.body), exc.status

    @app.errorhandler(StorageError)
    def storage_error(exc: StorageError) -> tuple[Response, int, dict[str, str]]:
        if isinstance(exc, StorageUnavailable):
            return jsonify(error="forge storage is unreachable"), 502, {}
        body = jsonify(error="forge storage failed", code=exc.code, status=exc.status)
        if exc.status == 429:
            return body, 503, {"Retry-After": "1"}
        return body, 502, {}

    return app
