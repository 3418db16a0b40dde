"""SNMP sources (PDU profiles and IF-MIB) over pysnmp 7 asyncio: the only module importing pysnmp.

v2c (community) and v3 authPriv (SHA/AES and friends); tables are read with GETBULK walks
bounded to each column. A silent agent, a wrong community and wrong v3 keys all look the
same on the wire (no answer): the error says so and names the address.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

# pysnmp 7.1 imports a deprecated pysmi name at import time; keep that out of our warnings.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        UsmUserData,
        bulk_walk_cmd,
        get_cmd,
        usmAesCfb128Protocol,
        usmAesCfb192Protocol,
        usmAesCfb256Protocol,
        usmDESPrivProtocol,
        usmHMAC192SHA256AuthProtocol,
        usmHMAC384SHA512AuthProtocol,
        usmHMACMD5AuthProtocol,
        usmHMACSHAAuthProtocol,
    )
    from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject
    from pysnmp.smi.compiler import add_mib_compiler

from collector.models import ReadResult, SourceError
from collector.power.if_mib import IF_MIB_COLUMNS, parse_if_mib
from collector.power.snmp_profiles import (
    column_samples,
    generic_column,
    parse_profile,
    profile_columns,
)
from collector.settings import SnmpSource, read_secret
from collector.snmp_tables import Oid
from collector.sources import LoopBound, ReadPolicy, SourceFailure

_AUTH = {
    "SHA": usmHMACSHAAuthProtocol,
    "SHA256": usmHMAC192SHA256AuthProtocol,
    "SHA512": usmHMAC384SHA512AuthProtocol,
    "MD5": usmHMACMD5AuthProtocol,
}
_PRIV = {
    "AES": usmAesCfb128Protocol,
    "AES192": usmAesCfb192Protocol,
    "AES256": usmAesCfb256Protocol,
    "DES": usmDESPrivProtocol,
}
_ABSENT = (NoSuchObject, NoSuchInstance, EndOfMibView)
_AUTH_WORDS = ("digest", "usm user", "security name", "decrypt", "authentication")


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return address, 161
    return host.strip("[]"), int(port)


def credentials(s: SnmpSource) -> CommunityData | UsmUserData:
    """v2c community or v3 USM user (authPriv), secrets through *_file keys."""
    if s.version == "2c":
        community = read_secret(s.community, s.community_file, f"sources[{s.name}].community")
        return CommunityData(community or "public", mpModel=1)
    auth = read_secret(s.auth_key, s.auth_key_file, f"sources[{s.name}].auth_key")
    priv = read_secret(s.priv_key, s.priv_key_file, f"sources[{s.name}].priv_key")
    return UsmUserData(
        s.user or "",
        authKey=auth,
        privKey=priv,
        authProtocol=_AUTH[s.auth_protocol],
        privProtocol=_PRIV[s.priv_protocol],
    )


def new_engine() -> SnmpEngine:
    """An engine whose MIB compiler is attached up front, outside any await, so the
    deprecation warnings pysnmp 7.1 raises while attaching it stay contained."""
    engine = SnmpEngine()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        add_mib_compiler(engine.get_mib_builder(), ifAvailable=True, ifNotAdded=True)
    return engine


def _value(v: Any) -> object | None:
    if isinstance(v, _ABSENT):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return str(v)


class SnmpClient:
    """One read's worth of SNMP: an engine, a target and the credentials."""

    def __init__(self, s: SnmpSource) -> None:
        self._s = s
        self._auth = credentials(s)

    def _fail(self, indication: object) -> SourceFailure:
        text = str(indication)
        low = text.lower()
        if "timeout" in low or "no snmp response" in low:
            return SourceFailure(
                "timeout",
                f"{self._s.address}: no SNMP response within {self._s.timeout_seconds}s x "
                f"{self._s.retries + 1} tries (agent down, wrong community or v3 credentials)",
            )
        if any(w in low for w in _AUTH_WORDS):
            return SourceFailure(
                "auth", f"{self._s.address}: SNMPv3 rejected ({text}): check user and keys"
            )
        return SourceFailure("snmp", f"{self._s.address}: {text}")

    async def walk(self, engine: SnmpEngine, columns: list[Oid]) -> dict[Oid, object]:
        """GETBULK-walk each column (concurrently) and return {oid: value}."""
        target = await UdpTransportTarget.create(
            _host_port(self._s.address),
            timeout=self._s.timeout_seconds,
            retries=self._s.retries,
        )
        parts = await asyncio.gather(*(self._walk_one(engine, target, c) for c in columns))
        table: dict[Oid, object] = {}
        for part in parts:
            table.update(part)
        return table

    async def _walk_one(self, engine: SnmpEngine, target: Any, column: Oid) -> dict[Oid, object]:
        out: dict[Oid, object] = {}
        oid = ".".join(map(str, column))
        async for err_ind, err_status, _idx, binds in bulk_walk_cmd(
            engine,
            self._auth,
            target,
            ContextData(),
            0,
            25,
            ObjectType(ObjectIdentity(oid)),
            lexicographicMode=False,
        ):
            if err_ind:
                raise self._fail(err_ind)
            if err_status:
                raise SourceFailure("snmp", f"{self._s.address}: {err_status.prettyPrint()}")
            for name, val in binds:
                v = _value(val)
                if v is not None:
                    out[tuple(name)] = v
        if not out:
            out.update(await self._get_scalar(engine, target, column))
        return out

    async def _get_scalar(self, engine: SnmpEngine, target: Any, column: Oid) -> dict[Oid, object]:
        """A column with no rows may be a scalar: GET `<oid>.0`, and `<oid>` itself in case the
        configured OID already names the instance (apc_ident, generic)."""
        candidates = [(*column, 0), column]
        err_ind, err_status, _i, binds = await get_cmd(
            engine,
            self._auth,
            target,
            ContextData(),
            *(ObjectType(ObjectIdentity(".".join(map(str, oid)))) for oid in candidates),
        )
        if err_ind:
            raise self._fail(err_ind)
        if err_status:
            return {}
        return {tuple(name): v for name, val in binds if (v := _value(val)) is not None}


async def _close_engine(engine: SnmpEngine) -> None:
    engine.close_dispatcher()


class SnmpReader:
    """A PDU profile, IF-MIB or generic OID source over SNMP: fetch = the walk, with the
    engine kept per source; parse = the profile's pure parser."""

    def __init__(self, settings: SnmpSource) -> None:
        self.name = settings.name
        # SNMP retransmits each request itself (`retries`); the whole read gets every try of
        # a request plus one more as margin.
        deadline = settings.timeout_seconds * (settings.retries + 2)
        self.policy = ReadPolicy(settings.timeout_seconds, 0, deadline, settings.interval_seconds)
        self._s = settings
        # ~0.4 s of CPU per engine: built with the reader, before any poll, and kept.
        self._engine = LoopBound(new_engine, _close_engine, eager=True)

    def columns(self) -> list[Oid]:
        s = self._s
        if s.profile == "if_mib":
            return list(IF_MIB_COLUMNS)
        if s.profile == "generic":
            assert s.oid is not None and s.unit is not None
            return [generic_column(s.oid, s.scale, s.unit, s.counter_width).base]
        return profile_columns(s.profile)

    async def fetch(self) -> dict[Oid, object]:
        return await SnmpClient(self._s).walk(await self._engine.get(), self.columns())

    def parse(self, table: dict[Oid, object], t: float) -> ReadResult:
        s = self._s
        if s.profile == "if_mib":
            traffic = parse_if_mib(table, source=s.name, t=t, link_header_bytes=s.link_header_bytes)
            return ReadResult(
                s.name,
                bool(traffic),
                0.0,
                traffic_totals=traffic,
                errors=(() if traffic else (SourceError(s.name, "empty", "no ifHCInOctets rows"),)),
            )
        if s.profile == "generic":
            assert s.oid is not None and s.unit is not None
            col = generic_column(s.oid, s.scale, s.unit, s.counter_width)
            samples = column_samples(table, col, source=s.name, t=t, basis=s.energy_basis)
        else:
            samples = parse_profile(table, s.profile, source=s.name, t=t, basis=s.energy_basis)
        errors = []
        bad = sorted({x.target for x in samples if x.unsupported})
        if bad:
            errors.append(
                SourceError(
                    s.name, "unsupported", f"device reports -1 (unsupported) for {', '.join(bad)}"
                )
            )
        if not samples:
            errors.append(SourceError(s.name, "empty", f"no rows under profile {s.profile}"))
        usable = any(not x.unsupported for x in samples)
        return ReadResult(s.name, usable, 0.0, energy=tuple(samples), errors=tuple(errors))

    async def aclose(self) -> None:
        """Close the engine's sockets; the next read binds a new engine."""
        await self._engine.aclose()
