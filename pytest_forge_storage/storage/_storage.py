"""``ForgeStorage``: the object a test holds — seed, inspect, assert, inject faults."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage._http import HttpRequest, RouterResult
from pytest_forge_storage._operations import DEFAULT_BASE_URL
from pytest_forge_storage._realism import Realism, parse_realism
from pytest_forge_storage.engine import Engine, gc_paused
from pytest_forge_storage.router import Router

from ._installation import Installation
from ._scope import Scope

#: What an installation's entry in a snapshot says about it, beside its data.
_DETAILS = {"product": "product", "cloudId": "cloud_id", "environment": "environment"}


class ForgeStorage(Scope):
    """An in-memory Forge hosted storage with Forge's semantics, limits and errors.

    Created for you by the ``forge_storage`` fixture or ``mock_forge_storage()``; while
    it is active, ``requests`` and ``httpx`` calls to Forge storage URLs are served by it.
    """

    def __init__(
        self,
        *,
        manifest: str | os.PathLike[str] | None = None,
        base_urls: Iterable[str] = (),
    ) -> None:
        if isinstance(base_urls, str):
            raise TypeError(f"base_urls takes a list of URLs, not a string: [{base_urls!r}]")
        self._realism = Realism()
        self._engine = Engine(realism=self._realism)
        urls = [DEFAULT_BASE_URL, *base_urls]
        self.base_urls: tuple[str, ...] = tuple(dict.fromkeys(u.rstrip("/") for u in urls))
        self._router = Router(self._engine, self.base_urls, realism=self._realism)
        #: Let the Forge-origin requests that the fake does not serve (and no mock of yours
        #: answers) reach the network; storage is still served. Read at :meth:`start`.
        self.passthrough = False
        self._init_scope(self._router, self._engine, None)
        self._installations: dict[str, Installation] = {}
        self._app_id = f"ari:cloud:ecosystem::app/{uuid.uuid4()}"
        self._interception: Any = None
        if manifest is not None:
            self.load_manifest(manifest)

    # -- serving -------------------------------------------------------------------
    def handle(self, request: HttpRequest) -> RouterResult:
        """Serve one HTTP request (what every door calls); ``None`` when it is not storage."""
        return self._router.handle(request)

    def start(self) -> ForgeStorage:
        """Start serving Forge requests made in this process (requests, httpx, aiohttp)."""
        if self._interception is None:
            from pytest_forge_storage.transports import Interception

            interception = Interception(
                self._router.handle, self._router.origins, passthrough=self.passthrough
            )
            interception.start()
            self._interception = interception
        return self

    def stop(self) -> None:
        """Stop intercepting (idempotent). The stored data stays inspectable."""
        interception, self._interception = self._interception, None
        if interception is not None:
            interception.stop()

    def add_to_responses(self, mock: Any) -> None:
        """Kept for 0.1 suites; not needed any more, and does nothing.

        The fake now sees Forge requests before any ``responses`` mock, whenever that mock
        was started, so a ``responses.RequestsMock()`` block needs nothing to coexist.
        """
        import responses

        if self._interception is None:
            raise RuntimeError(
                "add_to_responses() works while the fake is active: call it inside the test "
                "(or after storage.start())"
            )
        if not isinstance(mock, responses.RequestsMock):
            raise TypeError(f"add_to_responses() takes a responses.RequestsMock, not {mock!r}")

    @property
    def active(self) -> bool:
        return self._interception is not None

    # -- auth ----------------------------------------------------------------------
    @property
    def allowed_tokens(self) -> set[str] | None:
        """Bearer tokens accepted; ``None`` (default) accepts any non-blank token."""
        return self._router.allowed_tokens

    @allowed_tokens.setter
    def allowed_tokens(self, tokens: Iterable[str] | None) -> None:
        if isinstance(tokens, str):
            raise TypeError(f"allowed_tokens takes a set of tokens, e.g. {{{tokens!r}}}")
        self._router.allowed_tokens = None if tokens is None else set(tokens)

    @property
    def auth(self) -> bool:
        """Whether requests need ``Authorization: Bearer <token>`` (default ``True``)."""
        return self._router.auth_required

    @auth.setter
    def auth(self, required: bool) -> None:
        self._router.auth_required = bool(required)

    # -- installations -------------------------------------------------------------
    def installation(
        self,
        key: str = "default",
        *,
        product: str | None = None,
        cloud_id: str | None = None,
        environment: str | None = None,
    ) -> Installation:
        """Installation ``key`` of the app (made on first use; the same object after).

        A new installation is a ``product`` site (default ``"jira"``) with ``cloud_id``
        (default: a fresh UUID) in ``environment`` (``"production"``, ``"staging"`` or
        ``"development"``); asking again with different details raises ``ValueError``.

        Each has its own storage partition, token and calls; ``"default"`` is what
        ``storage.kvs`` and friends show and what tokens the fake did not issue reach.
        """
        record = self._router.installations.register(
            key, product=product, cloud_id=cloud_id, environment=environment
        )
        found = self._installations.get(key)
        if found is None:
            found = self._installations[key] = Installation(self, record)
        return found

    @property
    def installations(self) -> Mapping[str, Installation]:
        """Every installation by key (read-only): the default one first, then the others in
        the order they were made."""
        return MappingProxyType(
            {key: self.installation(key) for key in self._router.installations.records()}
        )

    # -- realism ---------------------------------------------------------------------
    @property
    def realism(self) -> Realism:
        """Forge's limits, lag and lingering expiry, off unless asked (design §2.7).

        Change a knob (``storage.realism.rate_limits = True``) or assign a preset
        (``"off"``, ``"limits"``, ``"full"``), a ``Realism``, or a dict of knobs, which
        changes only the knobs it names (as the marker's dict does over the ini's preset).
        """
        return self._realism

    @realism.setter
    def realism(self, value: Realism | Mapping[str, Any] | str) -> None:
        chosen = value if isinstance(value, Realism) else parse_realism(value, base=self._realism)
        for name, knob in chosen.as_dict().items():
            setattr(self._realism, name, knob)

    @property
    def app_id(self) -> str:
        """The app's ARI: ``app.id`` of a loaded manifest, else a generated
        ``ari:cloud:ecosystem::app/<uuid>``; the ``aud`` of every invocation token."""
        return self._engine.manifest_app_id or self._app_id

    @property
    def token_lifetime(self) -> timedelta:
        """How long a system token lives (default 2 hours, on the test's clock)."""
        return self._router.installations.tokens.lifetime

    @token_lifetime.setter
    def token_lifetime(self, lifetime: timedelta) -> None:
        self._router.installations.tokens.lifetime = lifetime

    @property
    def strict_tokens(self) -> bool:
        """With ``True``, a bearer token the fake did not issue is 401, not the default
        installation's."""
        return self._router.installations.strict

    @strict_tokens.setter
    def strict_tokens(self, strict: bool) -> None:
        self._router.installations.strict = bool(strict)

    # -- seeding and inspection ----------------------------------------------------
    def load_manifest(self, path: str | os.PathLike[str]) -> list[str]:
        """Declare the custom entities of a Forge ``manifest.yml``; returns their names."""
        return self._engine.load_manifest(path)

    def define_entity(
        self,
        name: str,
        attributes: Mapping[str, Any],
        indexes: Sequence[str | Mapping[str, Any]] = (),
    ) -> None:
        """Declare a custom entity, as ``app.storage.entities`` in a manifest would."""
        self._engine.define_entity(name, attributes, indexes)

    def reset(self) -> None:
        """Empty every store, forget calls, faults, usage and rate-limit windows; entity
        declarations, installations and realism knobs stay."""
        self._engine.reset_all()
        self._router.forget()

    def snapshot(self) -> dict[str, Any]:
        """Everything stored, in the ``data`` shape plus a ``metadata`` section; the other
        installations under ``installations``, with their product, cloudId and environment."""
        data = self._engine.snapshot()
        records = self._router.installations.records()
        for key, section in (data.get("installations") or {}).items():
            record = records.get(key)
            if record is not None:
                section.update(record.describe())
        return data

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the stored data with a :meth:`snapshot` (or any ``data`` dict)."""
        data, details = self._split(snapshot)
        self._engine.restore(data)
        self._register(details)

    def load_data(self, data: Mapping[str, Any]) -> None:
        """Add data in the marker's ``data`` shape to what is stored."""
        plain, details = self._split(data)
        self._engine.restore(plain, replace=False)
        self._register(details)

    def _split(self, data: Any) -> tuple[Any, dict[str, dict[str, Any]]]:
        """``data`` with the installation details taken out (for the engine), and the details
        by installation key, checked first: data that names an installation with other details
        than it has raises before anything changes (all or nothing, as the engine loads)."""
        parts = data.get("installations") if isinstance(data, Mapping) else None
        if not isinstance(parts, Mapping):
            return data, {}
        plain: dict[str, Any] = {}
        details: dict[str, dict[str, Any]] = {}
        for key, section in parts.items():
            if not isinstance(section, Mapping) or not isinstance(key, str) or key == "default":
                plain[key] = section  # the engine says what is wrong with it
                continue
            found = {_DETAILS[name]: section[name] for name in _DETAILS if name in section}
            self._router.installations.check(key, **found)
            details[key] = found
            plain[key] = {name: v for name, v in section.items() if name not in _DETAILS}
        return {**data, "installations": plain}, details

    def _register(self, details: Mapping[str, Mapping[str, Any]]) -> None:
        for key, found in details.items():
            self.installation(key, **found)

    def dump(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`snapshot` to a JSON file."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.snapshot(), fh, indent=2, ensure_ascii=False, sort_keys=True)
            fh.write("\n")

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace the stored data with a JSON file written by :meth:`dump`."""
        with open(path, encoding="utf-8") as fh, gc_paused():  # json.load builds in bulk too
            try:
                data = json.load(fh)
            except ValueError as exc:
                raise ForgeStorageError(
                    "BAD_REQUEST", f"{os.fspath(path)}: not JSON: {exc}"
                ) from None
        plain, details = self._split(data)
        self._engine.restore(plain, owned=True)  # parsed here: nobody else holds the values
        self._register(details)

    def __repr__(self) -> str:
        state = "active" if self.active else "inactive"
        return (
            f"<ForgeStorage {state}: {len(self.kvs)} kvs, {len(self.secrets)} secrets, "
            f"{len(self.calls)} calls>"
        )


ForgeStorage.__module__ = "pytest_forge_storage"  # the public name in reprs and tracebacks
