"""What ``assert_called``/``assert_not_called`` compare and say (design §2.9).

``request={...}`` is a subset of the call's parsed request: nested dicts are compared as
subsets, lists and scalars for equality, so ``request={"value": {"theme": "dark"},
"options": {"ttl": {"value": 5, "unit": "MINUTES"}}}`` says "this value, with a 5-minute
TTL", whatever else was sent. A failure lists the closest calls (those of the operation, with
the first difference of each) before the recorded calls; secret values are masked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_forge_storage._masking import MASK
from pytest_forge_storage.router import StorageCall, describe_calls

#: How many near misses a failed assertion lists.
CLOSEST = 3


def check_request(request: Any) -> None:
    if request is not None and not isinstance(request, Mapping):
        raise TypeError(
            f"request takes a dict that the call's request must contain, e.g. "
            f"request={{'value': 1}}, not {request!r}"
        )


def difference(expected: Any, actual: Any, path: str = "request") -> str | None:
    """The first place where ``actual`` does not contain ``expected``; ``None`` if it does."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{path} is {_kind(actual)}, expected an object"
        for name, child in expected.items():
            where = f"{path}[{name!r}]"
            if name not in actual:
                return f"{where} is missing"
            found = difference(child, actual[name], where)
            if found is not None:
                return found
        return None
    if _same(expected, actual):
        return None
    return f"{path} is {actual!r}, expected {expected!r}"


def matches(call: StorageCall, request: Mapping[str, Any] | None) -> bool:
    return request is None or difference(request, call.request) is None


def _same(expected: Any, actual: Any) -> bool:
    # JSON equality: True is not 1, 1 equals 1.0, lists compared item by item.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        return (
            isinstance(actual, Sequence)
            and not isinstance(actual, str)
            and len(expected) == len(actual)
            and all(_same(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, Mapping):
        return (
            difference(expected, actual) is None
            and isinstance(actual, Mapping)
            and (set(expected) == set(actual))
        )
    return bool(expected == actual)


def _kind(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r}"


def closest(
    candidates: list[StorageCall], request: Mapping[str, Any], everything: list[StorageCall]
) -> str:
    """The near misses: calls of the filter whose request differs, with each difference."""
    if not candidates:
        return ""
    lines = []
    for call in candidates[:CLOSEST]:
        number = everything.index(call) + 1 if call in everything else "?"
        why = difference(request, call.request) or "matches"
        if call.secret:
            why = _masked(why)
        lines.append(f"  {number}. {call.summary()}: {why}")
    more = len(candidates) - CLOSEST
    if more > 0:
        lines.append(f"  ... and {more} more")
    return "Closest calls:\n" + "\n".join(lines) + "\n"


def _masked(text: str) -> str:
    # "request['value'] is 'x', expected 'y'": keep the place, hide both values.
    head = text.split(" is ", 1)[0]
    return f"{head} differs (values of a secret call are masked: {MASK})"


def shown_request(request: Mapping[str, Any] | None, operation: str | None) -> str:
    if request is None:
        return ""
    if operation is not None and operation.startswith("secret/"):
        from pytest_forge_storage._json import dumps
        from pytest_forge_storage._masking import mask_request

        return f" with a request containing {mask_request(dumps(dict(request)), None)!r}"
    return f" with a request containing {dict(request)!r}"


def recorded(calls: list[StorageCall]) -> str:
    return f"Recorded calls:\n{describe_calls(calls)}"
