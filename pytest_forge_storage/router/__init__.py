"""The router: which requests are Forge storage, auth, faults and recording.

``Router.handle`` is the one entry point every door calls; ``Origins`` owns the URL rules;
``FaultPlan`` holds a test's faults; ``StorageCall`` is one recorded call.
"""

from __future__ import annotations

from ._calls import StorageCall, describe_calls
from ._faults import Fault, FaultPlan, make_fault
from ._origins import Origins
from ._router import RequestGate, Router

__all__ = [
    "Fault",
    "FaultPlan",
    "Origins",
    "RequestGate",
    "Router",
    "StorageCall",
    "describe_calls",
    "make_fault",
]
