"""Installations: who a request comes from, decided by its token (design §2.6).

Forge partitions storage per installation (app + environment + site + product), and on REST
the token alone selects the partition (reference: remote-invocation §2.4). The router keeps
one :class:`Record` per installation the test registered and a :class:`TokenRegistry` of the
tokens it issued. :meth:`Installations.resolve` turns a request's credentials into the
installation key or the 401 to answer:

* a bearer token this fake issued reaches its installation; expired or revoked → 401 saying
  which;
* any other non-blank bearer token reaches the default installation, so 0.1 suites keep
  working, unless ``strict`` is set (then 401);
* a request through the Containers egress proxy carries ``forge-proxy-authorization: Forge
  as=app,id=<invocationId>`` instead; an id bound by ``proxy_authorization()`` reaches its
  installation, any other id follows the rule for unknown tokens above, and a missing or
  malformed header is 401.

``contextAri`` (GraphQL) is checked against the installation's site: only the site segment
is compared, and the default installation refuses only the sites of the other installations.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from pytest_forge_storage._errors import ForgeStorageError

from ._tokens import Lookup, TokenRegistry

DEFAULT = "default"
ENVIRONMENTS = ("production", "staging", "development")
_PRODUCT = re.compile(r"[a-z][a-z0-9-]*\Z")
_SITE = re.compile(r"ari:cloud:[^:]*:[^:]*:site/(?P<site>[^/\s]+)\Z")
_PROXY = re.compile(r"Forge\s+(?P<params>.+)\Z", re.IGNORECASE)
_MISSING_PROXY = (
    "Unauthorized: requests through the Forge egress proxy need a forge-proxy-authorization: "
    "Forge as=app,id=<invocationId> header (installation.proxy_authorization() gives one)"
)


@dataclass(frozen=True)
class Record:
    """One installation of the app: its key in the test and its identity at Forge."""

    key: str
    product: str
    cloud_id: str
    environment: str
    installation_id: str

    @property
    def context_ari(self) -> str:
        """``ari:cloud:<product>::site/<cloudId>``, as remotes build it (seed 003)."""
        return f"ari:cloud:{self.product}::site/{self.cloud_id}"

    def describe(self) -> dict[str, str]:
        return {"product": self.product, "cloudId": self.cloud_id, "environment": self.environment}


class Installations:
    """The registered installations of one fake, their tokens and proxy invocation ids."""

    def __init__(self) -> None:
        self.tokens = TokenRegistry()
        self.strict = False
        self._records: dict[str, Record] = {}
        self._proxy_ids: dict[str, str] = {}
        self._lock = threading.Lock()
        self.register(DEFAULT)

    # -- registration ------------------------------------------------------------------
    def register(
        self,
        key: str,
        *,
        product: str | None = None,
        cloud_id: str | None = None,
        environment: str | None = None,
    ) -> Record:
        """The record of ``key``, made on first use (a ``jira`` site in ``production`` unless
        given); asking again with different details is an error."""
        wanted = _checked(key, product, cloud_id, environment)
        with self._lock:
            record = self._records.get(key)
            if record is None:
                record = Record(
                    key,
                    wanted["product"] or "jira",
                    wanted["cloud_id"] or str(uuid.uuid4()),
                    wanted["environment"] or "production",
                    f"ari:cloud:ecosystem::installation/{uuid.uuid4()}",
                )
                self._records[key] = record
                return record
        _same(record, wanted)
        return record

    def check(
        self,
        key: str,
        *,
        product: str | None = None,
        cloud_id: str | None = None,
        environment: str | None = None,
    ) -> None:
        """Raise what :meth:`register` would raise for these details, registering nothing."""
        wanted = _checked(key, product, cloud_id, environment)
        record = self._records.get(key)
        if record is not None:
            _same(record, wanted)

    def get(self, key: str) -> Record | None:
        return self._records.get(key)

    def records(self) -> dict[str, Record]:
        with self._lock:
            return dict(self._records)

    def proxy_authorization(self, key: str) -> str:
        """A ``forge-proxy-authorization`` value bound to installation ``key``."""
        invocation_id = secrets.token_hex(16)
        with self._lock:
            self._proxy_ids[invocation_id] = key
        return f"Forge as=app,id={invocation_id}"

    # -- who is asking -------------------------------------------------------------------
    def resolve(
        self, headers: Mapping[str, str], *, required: bool, via_proxy: bool = False
    ) -> tuple[str, ForgeStorageError | None]:
        """The installation key the credentials reach, and the 401 to answer or ``None``."""
        if via_proxy:
            invocation_id = _invocation_id(headers.get("forge-proxy-authorization", ""))
            if invocation_id is not None:
                key = self._proxy_ids.get(invocation_id)
                return (key, None) if key is not None else self._unknown(required)
            if required:  # missing, or not "Forge as=app,id=<invocationId>"
                return DEFAULT, ForgeStorageError("UNAUTHORIZED", _MISSING_PROXY)
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            if not required:
                return DEFAULT, None
            return DEFAULT, ForgeStorageError(
                "UNAUTHORIZED",
                "Unauthorized: the request was missing an Authorization: Bearer <token> header",
            )
        lookup = self.tokens.lookup(token)
        if lookup.installation is not None:
            return lookup.installation, None
        if lookup.problem in ("expired", "revoked"):
            owner = lookup.issued_to or DEFAULT
            if not required:  # auth is off: no 401, but the token still picks the partition
                return owner, None
            return owner, ForgeStorageError("UNAUTHORIZED", lookup.message)
        return self._unknown(required, lookup)

    def _unknown(self, required: bool, lookup: Lookup | None = None) -> tuple[str, Any]:
        if self.strict and required:
            message = lookup.message if lookup is not None else None  # spelt out only here
            return DEFAULT, ForgeStorageError(
                "UNAUTHORIZED",
                (message or "Unauthorized: the credentials were not issued by this fake")
                + " (strict_tokens is on)",
            )
        return DEFAULT, None

    def context_error(self, key: str, context_ari: Any) -> ForgeStorageError | None:
        """``CONTEXT_INVALID`` when ``context_ari`` names a site that ``key`` cannot reach."""
        if not isinstance(context_ari, str):
            return None
        match = _SITE.match(context_ari)
        site = match["site"] if match else None
        record = self._records.get(key)
        if key == DEFAULT:
            others = {r.cloud_id for k, r in self.records().items() if k != DEFAULT}
            default_site = record.cloud_id if record is not None else None
            allowed = site is None or site not in others or site == default_site
        else:
            allowed = record is not None and site == record.cloud_id
        if allowed:
            return None
        return ForgeStorageError(
            "CONTEXT_INVALID", f"Context {context_ari} is not accessible in this request", 400
        )


def _invocation_id(value: str) -> str | None:
    """The ``id`` of a ``Forge as=app,id=<invocationId>`` value, else ``None``."""
    match = _PROXY.match(value.strip())
    if match is None:
        return None
    params = {
        name.strip().lower(): found.strip()
        for name, _, found in (part.partition("=") for part in match["params"].split(","))
    }
    invocation_id = params.get("id")
    return invocation_id if params.get("as") == "app" and invocation_id else None


def _checked(key: Any, product: Any, cloud_id: Any, environment: Any) -> dict[str, Any]:
    """The details as given; a wrong type is a TypeError, an impossible value a ValueError."""
    if not isinstance(key, str) or not key.strip():
        _refuse(key, f"an installation key is a non-empty string such as 'site-b', not {key!r}")
    if product is not None and not (isinstance(product, str) and _PRODUCT.match(product)):
        _refuse(
            product,
            f"product must be a product name such as 'jira' or 'confluence', not {product!r}",
        )
    if cloud_id is not None and not (isinstance(cloud_id, str) and cloud_id.strip()):
        _refuse(cloud_id, f"cloud_id must be a non-empty string (the site's id), not {cloud_id!r}")
    if environment is not None and environment not in ENVIRONMENTS:
        _refuse(
            environment,
            f"environment must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}",
        )
    return {"product": product, "cloud_id": cloud_id, "environment": environment}


def _refuse(value: Any, message: str) -> NoReturn:
    raise (ValueError if isinstance(value, str) else TypeError)(message)


def _same(record: Record, wanted: dict[str, Any]) -> None:
    given = {name: value for name, value in wanted.items() if value is not None}
    actual = {
        "product": record.product,
        "environment": record.environment,
        "cloud_id": record.cloud_id,
    }
    differ = {name: value for name, value in given.items() if actual[name] != value}
    if differ:
        shown = ", ".join(f"{name}={actual[name]!r}" for name in differ)
        raise ValueError(
            f"installation {record.key!r} already exists with {shown}; use another key for "
            "another installation"
        )
