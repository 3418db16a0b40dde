"""Settings -> source objects. The only place that knows which class reads which `kind`."""

from __future__ import annotations

from collector.power.base import Source, SourceFailure
from collector.power.dcgm import DcgmReader
from collector.power.kepler import KeplerReader, PodLookup
from collector.power.pdu_http import HttpPlugReader
from collector.power.pdu_redfish import RedfishReader
from collector.power.requests import RequestsReader
from collector.settings import (
    DcgmSource,
    HttpJsonSource,
    KeplerSource,
    PrometheusCounterSource,
    RedfishSource,
    Settings,
    ShellySource,
    SnmpSource,
    SourceSettings,
    TasmotaSource,
)


def _kube_lookup(labels: dict[str, str], namespaces: list[str]) -> PodLookup:
    async def lookup() -> set[str]:
        from collector import kube

        try:
            return await kube.pod_names_async(labels=labels, namespaces=namespaces)
        except Exception as exc:  # the client raises many types (config, HTTP, API)
            raise SourceFailure("kube", f"pod lookup by labels {labels}: {exc}") from None

    return lookup


def build_source(s: SourceSettings) -> Source:
    """One source object for one settings entry (pysnmp is imported only for SNMP sources)."""
    if isinstance(s, KeplerSource):
        lookup = _kube_lookup(s.pod_labels, s.namespaces) if s.pod_labels else None
        return KeplerReader(s, pod_lookup=lookup)
    if isinstance(s, DcgmSource):
        return DcgmReader(s)
    if isinstance(s, SnmpSource):
        from collector.power.pdu_snmp import SnmpReader

        return SnmpReader(s)
    if isinstance(s, RedfishSource):
        return RedfishReader(s)
    if isinstance(s, ShellySource | TasmotaSource | HttpJsonSource):
        return HttpPlugReader(s)
    if isinstance(s, PrometheusCounterSource):
        return RequestsReader(s)
    raise ValueError(f"sources[{s.name}]: no reader for kind {s.kind!r}")


def build_sources(settings: Settings) -> list[Source]:
    return [build_source(s) for s in settings.sources]
