"""Settings -> running sources: the only place that knows which class reads which `kind`.

Adding a source kind is one module (a class with `fetch` and `parse`), its settings class and
one line in READERS; the runtime gives it deadline, retries, health and the source metrics.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from collector.settings import Settings, SourceBase
from collector.sources import Poller, Runner, Source

READERS: dict[str, str] = {
    "kepler": "collector.power.kepler:KeplerReader",
    "dcgm": "collector.power.dcgm:DcgmReader",
    "snmp": "collector.power.pdu_snmp:SnmpReader",  # pysnmp is imported only when used
    "redfish": "collector.power.pdu_redfish:RedfishReader",
    "shelly": "collector.power.pdu_http:HttpPlugReader",
    "tasmota": "collector.power.pdu_http:HttpPlugReader",
    "http_json": "collector.power.pdu_http:HttpPlugReader",
    "prometheus_counter": "collector.power.requests:RequestsReader",
}
"""`kind` -> "module:Class"; the class takes its settings entry and implements Source."""


def reader_class(kind: str) -> Callable[[Any], Source[Any]]:
    try:
        module, _, name = READERS[kind].partition(":")
    except KeyError:
        raise ValueError(f"no reader for source kind {kind!r}") from None
    cls: Callable[[Any], Source[Any]] = getattr(importlib.import_module(module), name)
    return cls


def build_source(s: SourceBase, clock: Callable[[], float] = time.time) -> Runner[Any]:
    """One settings entry as a running source."""
    kind = str(getattr(s, "kind", ""))
    return Runner(reader_class(kind)(s), clock=clock)


def build_poller(settings: Settings, clock: Callable[[], float] = time.time) -> Poller:
    """Every `sources:` entry, each with its own timeout, retries and interval."""
    return Poller([build_source(s, clock) for s in settings.sources], clock)
