"""Inbound invocations: what a FIT and a system token cost.

* a FIT minted after the first (claims, RS256 signature, headers, the installation's current
  system token) beside a bare ``jwt.encode`` RS256 of the same claims with the same key: the
  budget is absolute, <= 1 ms per FIT (issue 14), and the ratio shows the fake's share;
* the one-off RSA-2048 key generation the first FIT of a process pays (the "wrong" key of
  ``valid_signature=False`` costs the same once more, only if asked for);
* a system token looked up, beside a bare dict hit plus ``time.time()`` (what every served
  call with installations will pay), and minted (HS256 with the standard library, so tokens
  need no extra) beside PyJWT's HS256 ``jwt.encode``.
"""

from __future__ import annotations

import secrets
import time

from _timing import Config, Row, median, ms, paired, simply, us

from pytest_forge_storage.router import _keys, _tokens
from pytest_forge_storage.storage import _fit

CLAIMS = {
    "app_id": "8db33809-1f32-48bb-8c52-5877dab48107",
    "installation_id": "0a3a7799-53ae-4a5b-9e7e-03338980abb5",
    "product": "jira",
    "cloud_id": "d0d52620-3203-4cfa-8db5-f2587155f0dd",
    "site_url": "https://site-b.atlassian.net",
    "principal": "655362:312d3308-8954-42b0-aa38-771a10c88656",
}
#: The absolute budget of one FIT, in microseconds.
FIT_BUDGET_US = 1_000


def invocation_rows(config: Config) -> list[Row]:
    try:
        import jwt
    except ImportError:
        note = f"PyJWT is not installed: {_keys.INSTALL_HINT}"
        return [Row("invocations", "FIT minted, after the first", None, "us", note=note)]

    registry = _tokens.TokenRegistry()
    key = _keys.signing_key()  # the first FIT's one-off cost, measured apart below
    headers = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    fixed = _fit.fit_claims(**CLAIMS)

    def fit() -> None:
        claims = _fit.fit_claims(**CLAIMS)
        _fit.invocation(claims, system_token=registry.current("site-b")).headers  # noqa: B018

    def bare_encode() -> None:
        jwt.encode(fixed, key.private_key, algorithm="RS256", headers=headers)

    samples = paired({"fake": lambda: simply(fit), "baseline": lambda: simply(bare_encode)}, config)
    fit_us = us(median(samples["fake"]))

    generation: list[float] = []
    for _ in range(3 if config.quick else 7):
        start = time.perf_counter_ns()
        _keys._generate()
        generation.append(time.perf_counter_ns() - start)

    token = registry.current("site-b")
    table = {token: object()}

    def lookup() -> None:
        registry.lookup(token)

    def bare_lookup() -> None:
        table.get(token)
        time.time()

    looked = paired(
        {"fake": lambda: simply(lookup), "baseline": lambda: simply(bare_lookup)}, config
    )

    def mint() -> None:
        registry.new("site-b")

    payload = {"iat": 1, "exp": 7201, "jti": secrets.token_hex(16), "installation": "site-b"}

    def bare_mint() -> None:
        jwt.encode(payload, _keys.SYSTEM_TOKEN_SECRET, algorithm="HS256")

    minted = paired({"fake": lambda: simply(mint), "baseline": lambda: simply(bare_mint)}, config)
    return [
        Row(
            "invocations",
            "FIT minted, after the first",
            fit_us,
            "us",
            "bare jwt.encode RS256, same key",
            us(median(samples["baseline"])),
            verdict=fit_us <= FIT_BUDGET_US,
            budget_text="<= 1 ms",
            note="fit_claims + invocation(): claims, RS256 signature, trace ids, system token",
            samples=samples,
        ),
        Row(
            "invocations",
            "  RSA-2048 key generation, once per process",
            ms(median(generation)),
            "ms",
            note=f"median of {len(generation)}; the first FIT of a process pays it",
        ),
        Row(
            "invocations",
            "system token lookup",
            us(median(looked["fake"])),
            "us",
            "bare dict.get + time.time()",
            us(median(looked["baseline"])),
            samples=looked,
        ),
        Row(
            "invocations",
            "system token minted (HS256)",
            us(median(minted["fake"])),
            "us",
            "bare jwt.encode HS256",
            us(median(minted["baseline"])),
            samples=minted,
        ),
    ]
