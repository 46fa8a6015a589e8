"""Forge Invocation Tokens (FITs) and the headers Forge sends a remote.

A FIT is the RS256 JWT in ``authorization: Bearer <FIT>`` of every request Forge makes to a
remote (reference §1.2-§1.4). :func:`fit_claims` builds its claims from explicit arguments,
with exactly the claim names the reference documents and nothing undocumented (``sub``,
``icLabel``, ``invocationId``, ``app.version`` and ``contexts[].cloudId`` only through
``extra_claims``); :func:`sign_fit` signs them with the process's key (:mod:`._keys`) under
its ``kid``; :func:`invocation` adds the other headers and returns an :class:`Invocation`.

Invocation kinds (reference D3): with a ``principal`` the FIT is a UI module's (a ``context``
with ``cloudId``, ``siteUrl`` and ``moduleKey``, and a UI module type); without one it is a
backend ``invokeRemote`` from a function or an event (``module.type`` ``core:endpoint`` and no
``context``, as the docs say: "no context is currently provided").

Negative variants: ``expired=True`` (issued long enough ago that ``exp`` is 5 minutes past,
beyond any usual verifier leeway), a past ``issued_at`` (to test leeway edges), ``audience``
(a wrong ``aud``; ``app.id`` keeps the real app) and ``valid_signature=False`` (the wrong key,
under the real ``kid``). ``expires_in`` is always a positive lifetime.
"""

from __future__ import annotations

import copy
import json
import math
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pytest_forge_storage.router import _keys

ISSUER = "forge/invocation-token"  # reference §1.3, D
ENVIRONMENT_TYPES = ("DEVELOPMENT", "STAGING", "PRODUCTION")  # reference §1.4, D
DEFAULT_EXPIRES_IN = timedelta(seconds=25)  # the doc example's iat → exp, and the UI timeout
DEFAULT_MODULE_KEY = "remote-endpoint"
DEFAULT_APP_VERSION = "1.0.0"
BACKEND_MODULE_TYPE = "core:endpoint"  # reference §1.4: "Otherwise, it will be core:endpoint"
#: UI module types by product, for invocations with a principal (§1.4 names ``xen:macro``).
UI_MODULE_TYPES = {"jira": "jira:issuePanel", "confluence": "xen:macro"}
#: How far in the past ``exp`` lies for ``expired=True``: more than any verifier's leeway.
EXPIRED_BY = timedelta(minutes=5)

APP_PREFIX = "ari:cloud:ecosystem::app/"
INSTALLATION_PREFIX = "ari:cloud:ecosystem::installation/"
ENVIRONMENT_PREFIX = "ari:cloud:ecosystem::environment/"
_PRODUCT = re.compile(r"[a-z][a-z0-9-]*\Z")
_UUID_NAMESPACE = uuid.UUID("6f0b4d52-5a0e-4c1e-9a43-3b1d8f0c2e77")  # environment ids


def _text(value: object, name: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        error = ValueError if isinstance(value, str) else TypeError
        raise error(f"{name} must be a non-empty string such as {example!r}; got {value!r}")
    return value


def _ari(value: object, prefix: str, name: str) -> str:
    """An ARI given whole or as its bare UUID (REST paths use the bare form, the FIT the ARI)."""
    text = _text(value, name, f"{prefix}<uuid>")
    if text.startswith(prefix):
        return text
    if ":" in text or "/" in text:
        raise ValueError(f"{name} must be {prefix}<uuid> or the bare <uuid>; got {text!r}")
    return prefix + text


def environment_type(value: object) -> str:
    """``DEVELOPMENT``, ``STAGING`` or ``PRODUCTION``, from any case (``"production"``)."""
    if isinstance(value, str) and value.upper() in ENVIRONMENT_TYPES:
        return value.upper()
    raise (ValueError if isinstance(value, str) else TypeError)(
        "environment must be one of 'development', 'staging', 'production' (any case); "
        f"got {value!r}"
    )


def default_environment_id(app_id: str, env_type: str) -> str:
    """The two-segment ``environment/<appUuid>/<envUuid>`` of the payload examples (D3),
    with an environment UUID derived from the app and the type, so it is stable."""
    app_uuid = app_id.removeprefix(APP_PREFIX)
    env_uuid = uuid.uuid5(_UUID_NAMESPACE, f"{app_uuid}/{env_type}")
    return f"{ENVIRONMENT_PREFIX}{app_uuid}/{env_uuid}"


def site_url_for(name: str) -> str:
    """``https://<slug>.atlassian.net`` for an installation key: lower case, ``[a-z0-9-]``.

    Not the doc example's ``jira-dev.com``: real remotes reject hosts outside
    ``*.atlassian.net`` (reference §1.6)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "site"
    return f"https://{slug[:63].rstrip('-')}.atlassian.net"


def api_base_url_for(product: str, cloud_id: str) -> str:
    """``https://api.atlassian.com/ex/<product>/<cloudId>`` (reference §2.5, D for Confluence)."""
    return f"https://api.atlassian.com/ex/{product}/{cloud_id}"


def _issued_at(issued_at: object, expired: bool, seconds: int) -> int:
    if issued_at is not None and expired:
        raise ValueError("pass either expired=True or issued_at=..., not both")
    if issued_at is None:
        now = time.time()  # read at call time: freezegun and time-machine apply
        return int(now) - (seconds + int(EXPIRED_BY.total_seconds()) if expired else 0)
    if not isinstance(issued_at, datetime) or issued_at.utcoffset() is None:
        raise (ValueError if isinstance(issued_at, datetime) else TypeError)(
            "issued_at must be a timezone-aware datetime, such as "
            f"datetime.now(timezone.utc) - timedelta(minutes=1); got {issued_at!r}"
        )
    return math.floor(issued_at.timestamp())


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Deep merge: a dict merges into a dict, anything else replaces."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def fit_claims(
    *,
    app_id: str,
    installation_id: str,
    product: str,
    cloud_id: str,
    site_url: str,
    environment: str = "production",
    environment_id: str | None = None,
    api_base_url: str | None = None,
    module_key: str = DEFAULT_MODULE_KEY,
    module_type: str | None = None,
    principal: str | None = None,
    issued_at: datetime | None = None,
    expires_in: timedelta = DEFAULT_EXPIRES_IN,
    expired: bool = False,
    audience: str | None = None,
    app_version: str = DEFAULT_APP_VERSION,
    extra_claims: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The FIT payload (reference §1.4, D3), every argument checked: a wrong type is a
    TypeError, an impossible value a ValueError, each saying what to write (as elsewhere in
    the package, e.g. ``storage.set(ttl=...)``).

    ``app_id``/``installation_id`` take the ARI or its bare UUID. ``expires_in`` is a positive
    ``timedelta`` (whole seconds, rounded up); ``issued_at`` a timezone-aware ``datetime``
    (default: now on the test's clock). ``extra_claims`` is deep-merged last, for claims a
    remote reads that Forge does not document.
    """
    app = _ari(app_id, APP_PREFIX, "app_id")
    installation = _ari(installation_id, INSTALLATION_PREFIX, "installation_id")
    env_type = environment_type(environment)
    env_id = (
        default_environment_id(app, env_type)
        if environment_id is None
        else _ari(environment_id, ENVIRONMENT_PREFIX, "environment_id")
    )
    if not isinstance(product, str) or not _PRODUCT.match(product):
        raise (ValueError if isinstance(product, str) else TypeError)(
            f"product must be a lower-case name such as 'jira'; got {product!r}"
        )
    cloud = _text(cloud_id, "cloud_id", "d0d52620-3203-4cfa-8db5-f2587155f0dd")
    site = _text(site_url, "site_url", "https://example.atlassian.net")
    if not site.startswith(("https://", "http://")):
        raise ValueError(f"site_url must be an https:// URL; got {site!r}")
    base = (
        api_base_url_for(product, cloud)
        if api_base_url is None
        else _text(api_base_url, "api_base_url", api_base_url_for(product, cloud))
    )
    key = _text(module_key, "module_key", DEFAULT_MODULE_KEY)
    if principal is not None:
        _text(principal, "principal", "655362:312d3308-8954-42b0-aa38-771a10c88656")
    if module_type is None:
        ui_type = UI_MODULE_TYPES.get(product, BACKEND_MODULE_TYPE)
        module_type = BACKEND_MODULE_TYPE if principal is None else ui_type
    else:
        _text(module_type, "module_type", "jira:issuePanel")
    seconds = _expires_in_seconds(expires_in)
    if not isinstance(expired, bool):
        raise TypeError(f"expired must be True or False; got {expired!r}")
    iat = _issued_at(issued_at, expired, seconds)
    aud = app if audience is None else _text(audience, "audience", APP_PREFIX + "<uuid>")
    version = _text(app_version, "app_version", DEFAULT_APP_VERSION)

    claims: dict[str, Any] = {
        "app": {
            "id": app,
            "appVersion": version,
            "installationId": installation,
            "apiBaseUrl": base,
            "environment": {"type": env_type, "id": env_id},
            "module": {"type": module_type, "key": key},
            "installation": {
                "id": installation,
                "contexts": [{"name": product, "apiBaseUrl": base}],
            },
        },
    }
    if principal is not None:
        claims["context"] = {"cloudId": cloud, "siteUrl": site, "moduleKey": key}
        claims["principal"] = principal
    claims.update(
        aud=aud, iss=ISSUER, iat=iat, nbf=iat, exp=iat + seconds, jti=secrets.token_hex(20)
    )
    if extra_claims is not None:
        if not isinstance(extra_claims, Mapping):
            raise TypeError(f"extra_claims must be a dict of claims; got {extra_claims!r}")
        try:
            json.dumps(extra_claims)
        except (TypeError, ValueError) as exc:  # json's own class: a type, or a cycle
            message = f"extra_claims must be JSON (str keys, JSON values): {exc}"
            raise type(exc)(message) from None
        _merge(claims, extra_claims)
    return claims


def _expires_in_seconds(expires_in: object) -> int:
    if isinstance(expires_in, timedelta) and expires_in > timedelta(0):
        return math.ceil(expires_in.total_seconds())
    raise (ValueError if isinstance(expires_in, timedelta) else TypeError)(
        "expires_in must be a positive datetime.timedelta, such as timedelta(seconds=25); "
        f"got {expires_in!r}. For an expired FIT pass expired=True, or a past issued_at"
    )


def sign_fit(claims: Mapping[str, Any], *, valid_signature: bool = True) -> str:
    """The RS256 JWT of ``claims``, header ``{alg, kid, typ: "JWT"}``.

    ``valid_signature=False`` signs with the wrong key under the real ``kid``: a verifier
    finds the published key and rejects the signature.
    """
    if not isinstance(valid_signature, bool):
        raise TypeError(f"valid_signature must be True or False; got {valid_signature!r}")
    jwt = _keys.require("jwt")
    key = _keys.signing_key() if valid_signature else _keys.wrong_key()
    headers = {"alg": "RS256", "kid": _keys.kid(), "typ": "JWT"}
    token: str = jwt.encode(dict(claims), key.private_key, algorithm="RS256", headers=headers)
    return token


@dataclass(frozen=True)
class Invocation:
    """One request's worth of what Forge sends a remote: the FIT and the headers.

    ``headers`` and ``claims`` return fresh copies, so a test may add its own headers
    (``{**invocation.headers, "content-type": ...}``) or edit claims to re-sign them.
    """

    fit: str
    system_token: str | None
    user_token: str | None
    trace_id: str
    span_id: str
    _claims: str = field(repr=False)  # JSON: immutable, and copied by json.loads

    @property
    def claims(self) -> dict[str, Any]:
        """The FIT's decoded payload."""
        result: dict[str, Any] = json.loads(self._claims)
        return result

    @property
    def headers(self) -> dict[str, str]:
        """Lower-case header names, as Forge's docs print them (reference §1.2)."""
        headers = {
            "authorization": f"Bearer {self.fit}",
            "x-b3-traceid": self.trace_id,
            "x-b3-spanid": self.span_id,
        }
        if self.system_token is not None:
            headers["x-forge-oauth-system"] = self.system_token  # raw, as in Atlassian's example
        if self.user_token is not None:
            headers["x-forge-oauth-user"] = self.user_token
        return headers

    def __repr__(self) -> str:  # tokens are long and secret-shaped: name the call instead
        claims = self.claims
        app = _dict(claims.get("app"))
        module = _dict(app.get("module"))
        return (
            f"Invocation(installation_id={app.get('installationId')!r}, "
            f"module_key={module.get('key')!r}, "
            f"principal={claims.get('principal')!r}, exp={claims.get('exp')!r}, "
            f"user_token={self.user_token is not None})"
        )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def invocation(
    claims: Mapping[str, Any],
    *,
    system_token: str | None,
    user_token: str | None = None,
    valid_signature: bool = True,
) -> Invocation:
    """Sign ``claims`` and add the headers: the system token (omitted when ``None``, as for
    an endpoint without ``appSystemToken``), B3 trace ids (always: some remotes reject
    requests without them) and the user token, which Forge sends only with a user."""
    if user_token is not None and "principal" not in claims:
        raise ValueError(
            "a user token needs a principal: pass principal='<accountId>' (Forge never sends "
            "x-forge-oauth-user without a user in session)"
        )
    return Invocation(
        fit=sign_fit(claims, valid_signature=valid_signature),
        system_token=system_token,
        user_token=user_token,
        trace_id=secrets.token_hex(16),
        span_id=secrets.token_hex(8),
        _claims=json.dumps(claims, separators=(",", ":")),
    )


Invocation.__module__ = "pytest_forge_storage"  # the public name in reprs and tracebacks
