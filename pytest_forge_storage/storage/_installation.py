"""``Installation``: one installation of the app, as a test holds it (design §2.6).

An installation is one site + product + environment; Forge gives it its own storage
partition and its own system token. An :class:`Installation` seeds and inspects that
partition (``kvs``, ``secrets``, ``entity()``, ``set()``), sees its own calls and faults, hands
out its current token, and builds what Forge sends a remote on its behalf: an
:class:`~pytest_forge_storage.storage._fit.Invocation` (a signed Forge Invocation Token plus
headers) and, for Forge Containers, a ``forge-proxy-authorization`` value.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ._scope import Scope

if TYPE_CHECKING:
    from pytest_forge_storage.router._installations import Record

    from ._fit import Invocation
    from ._storage import ForgeStorage

#: The Forge Invocation Token's lifetime in Forge's example (and the UI invocation timeout).
DEFAULT_EXPIRES_IN = timedelta(seconds=25)


class Installation(Scope):
    """One installation: its own data, calls, faults, tokens and invocations."""

    def __init__(self, storage: ForgeStorage, record: Record) -> None:
        router = storage._router
        self._storage = storage
        self._record = record
        self._init_scope(router, router.engine.partition(record.key), record.key)

    # -- identity -----------------------------------------------------------------------
    @property
    def key(self) -> str:
        """The name the test gave it (``"default"`` for the default installation)."""
        return self._record.key

    @property
    def product(self) -> str:
        return self._record.product

    @property
    def environment(self) -> str:
        return self._record.environment

    @property
    def cloud_id(self) -> str:
        """The site's cloud id (a UUID unless given)."""
        return self._record.cloud_id

    @property
    def installation_id(self) -> str:
        """``ari:cloud:ecosystem::installation/<uuid>``, as the FIT carries it."""
        return self._record.installation_id

    @property
    def context_ari(self) -> str:
        """``ari:cloud:<product>::site/<cloud_id>``: what a remote sends as ``contextAri``."""
        return self._record.context_ari

    # -- tokens --------------------------------------------------------------------------
    @property
    def token(self) -> str:
        """The current system token; a fresh one once it expired or was revoked."""
        return self._router.installations.tokens.current(self.key)

    def new_token(self) -> str:
        """Rotate: a new current token (older ones stay valid until they expire)."""
        return self._router.installations.tokens.new(self.key)

    def revoke_tokens(self) -> None:
        """Every token of this installation stops working (401 ``UNAUTHORIZED``)."""
        self._router.installations.tokens.revoke(self.key)

    def proxy_authorization(self) -> str:
        """A ``forge-proxy-authorization`` header value bound to this installation (Forge
        Containers: requests to ``FORGE_EGRESS_PROXY_URL`` carry it instead of a token)."""
        return self._router.installations.proxy_authorization(self.key)

    # -- inbound ------------------------------------------------------------------------
    def invocation(
        self,
        *,
        principal: str | None = None,
        module_key: str = "remote-endpoint",
        user_token: bool = False,
        expires_in: timedelta = DEFAULT_EXPIRES_IN,
        audience: str | None = None,
        valid_signature: bool = True,
        **claims: Any,
    ) -> Invocation:
        """What Forge sends a remote for this installation: ``.headers``, ``.fit``, ``.claims``.

        ``principal`` (an accountId) makes it a UI invocation (with ``context`` and, with
        ``user_token=True``, ``x-forge-oauth-user``); without one it is a backend invocation.
        ``audience`` overrides ``aud`` (default ``storage.app_id``) and
        ``valid_signature=False`` signs with a key the JWKS does not publish, for negative
        tests. Further keyword arguments go to the claim builder: ``expired=True``,
        ``issued_at=``, ``module_type=``, ``extra_claims=``, ...
        Needs the ``invocations`` extra (PyJWT and cryptography).
        """
        from . import _fit

        _check_claim_arguments(claims)
        built = _fit.fit_claims(
            app_id=self._storage.app_id,
            installation_id=self.installation_id,
            product=self.product,
            cloud_id=self.cloud_id,
            site_url=_fit.site_url_for(self.key),
            environment=self.environment,
            module_key=module_key,
            principal=principal,
            expires_in=expires_in,
            audience=audience,
            **claims,
        )
        tokens = self._router.installations.tokens
        if user_token and principal is None:
            raise ValueError(
                "user_token=True needs a principal: pass principal='<accountId>' (Forge sends "
                "x-forge-oauth-user only with a user in session)"
            )
        return _fit.invocation(
            built,
            system_token=self.token,
            user_token=tokens.user(self.key, principal) if user_token and principal else None,
            valid_signature=valid_signature,
        )

    def __repr__(self) -> str:
        return (
            f"<Installation {self.key!r} {self.product} site/{self.cloud_id} "
            f"({self.environment}): {len(self.kvs)} kvs, {len(self.calls)} calls>"
        )


#: The arguments of ``fit_claims`` an installation fills in itself.
_FILLED = ("app_id", "installation_id", "product", "cloud_id", "site_url", "environment")


def _check_claim_arguments(claims: dict[str, Any]) -> None:
    """A TypeError naming ``invocation()`` (not the claim builder) for an unknown argument."""
    import inspect

    from ._fit import fit_claims

    accepted = [name for name in inspect.signature(fit_claims).parameters if name not in _FILLED]
    unknown = sorted(set(claims) - set(accepted))
    if unknown:
        raise TypeError(
            f"invocation() got unexpected keyword argument(s) {', '.join(unknown)}; it accepts "
            f"{', '.join(['user_token', 'valid_signature', *accepted])}"
        )


Installation.__module__ = "pytest_forge_storage"  # the public name in reprs and tracebacks
