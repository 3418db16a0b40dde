"""The SNMP profile table: for each profile name, the MIB columns it walks and their units.

Data only, and a leaf, so that the settings derive the names a source's `profile` may take from
it and collector/power/snmp_profiles.py parses walked rows with it: a new vendor profile is one
entry here (plus its fixture and test). OIDs and units were checked against the vendors' MIB
texts; tests/fixtures/snmp/README.md cites them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from collector.models import SampleKind
from collector.units import joules_from_tenths_kwh, joules_from_wh, watts_from_hundredths_kw

Oid = tuple[int, ...]

APC = (1, 3, 6, 1, 4, 1, 318, 1, 1)
RARITAN = (1, 3, 6, 1, 4, 1, 13742, 6)
SENTRY4 = (1, 3, 6, 1, 4, 1, 1718, 4, 1)
EATON = (1, 3, 6, 1, 4, 1, 534, 6, 6, 7)


def parse_oid(text: str) -> Oid:
    """Dotted OID text (a leading dot allowed) as a tuple of ints."""
    return tuple(int(p) for p in text.strip(".").split("."))


@dataclass(frozen=True, slots=True)
class Column:
    """One walked column: its base OID, whether it is power or energy, and its unit size."""

    base: Oid
    kind: SampleKind
    unit_size: float  # watts per raw unit (gauge) or joules per raw unit (counter)
    resolution_joules: float | None = None
    width_raw: float | None = None  # counter width in raw units, when the type wraps
    minus_one_unsupported: bool = True
    device_level: bool = False  # rows are whole devices: targets "device", "device/2", ...


TENTH_KWH = float(joules_from_tenths_kwh(1))
WH = float(joules_from_wh(1))
HUNDREDTH_KW = float(watts_from_hundredths_kw(1))

PROFILES: dict[str, tuple[Column, ...]] = {
    # PowerNet-MIB rPDU2DeviceStatusPower (.5, 0.01 kW) and ...Energy (.9, 0.1 kWh)
    "apc_rpdu2_device": (
        Column((*APC, 26, 4, 3, 1, 5), "gauge", HUNDREDTH_KW, device_level=True),
        Column((*APC, 26, 4, 3, 1, 9), "counter", TENTH_KWH, TENTH_KWH, device_level=True),
    ),
    # rPDU2PhaseStatusPower (.7, 0.01 kW)
    "apc_rpdu2_phase": (Column((*APC, 26, 6, 3, 1, 7), "gauge", HUNDREDTH_KW),),
    # rPDU2OutletMeteredStatusPower (.7, W) and ...Energy (.11, 0.1 kWh)
    "apc_rpdu2_outlet": (
        Column((*APC, 26, 9, 4, 3, 1, 7), "gauge", 1.0),
        Column((*APC, 26, 9, 4, 3, 1, 11), "counter", TENTH_KWH, TENTH_KWH),
    ),
    # rPDUIdentDevicePowerWatts.0 (W)
    "apc_ident": (Column((*APC, 12, 1, 16), "gauge", 1.0),),
    # Sentry4-MIB st4InputCordActivePower (.3, W) and st4InputCordEnergy (.10, 0.1 kWh)
    "sentry4_cord": (
        Column((*SENTRY4, 3, 3, 1, 3), "gauge", 1.0),
        Column((*SENTRY4, 3, 3, 1, 10), "counter", TENTH_KWH, TENTH_KWH),
    ),
    # EATON-EPDU-MIB inputTotalWatts (.4, W), inputTotalWh (.5, Wh, Unsigned32)
    "eaton_input": (
        Column((*EATON, 3, 5, 1, 4), "gauge", 1.0, minus_one_unsupported=False),
        Column((*EATON, 3, 5, 1, 5), "counter", WH, WH, 2.0**32, minus_one_unsupported=False),
    ),
    # EATON-EPDU-MIB outletWatts (.3, W), outletWh (.4, Wh, Unsigned32)
    "eaton_outlet": (
        Column((*EATON, 6, 5, 1, 3), "gauge", 1.0, minus_one_unsupported=False),
        Column((*EATON, 6, 5, 1, 4), "counter", WH, WH, 2.0**32, minus_one_unsupported=False),
    ),
}

# PDU2-MIB: measurements{Inlet,Outlet}SensorValue, {inlet,outlet}SensorDecimalDigits and Units;
# rows are indexed <pduId>.<inlet|outlet>.<sensorType>.
RARITAN_TABLES: dict[str, tuple[Oid, Oid, Oid]] = {
    "raritan_inlet": (
        (*RARITAN, 5, 2, 3, 1, 4),
        (*RARITAN, 3, 3, 4, 1, 7),
        (*RARITAN, 3, 3, 4, 1, 6),
    ),
    "raritan_outlet": (
        (*RARITAN, 5, 4, 3, 1, 4),
        (*RARITAN, 3, 5, 4, 1, 7),
        (*RARITAN, 3, 5, 4, 1, 6),
    ),
}

IF_MIB = "if_mib"
"""IF-MIB traffic totals (collector/power/if_mib.py) rather than power."""
GENERIC = "generic"
"""One configured OID, scale and unit (SnmpSource.oid, .scale, .unit)."""

SNMP_PROFILES: tuple[str, ...] = (*PROFILES, *RARITAN_TABLES, IF_MIB, GENERIC)
"""Every name a source's `profile` may take."""

# The settings' type for `profile`: a Literal built from the table, so a settings file is checked
# against it when it loads (mypy, which cannot evaluate it, sees a str).
if TYPE_CHECKING:
    SnmpProfile = str
else:
    SnmpProfile = Literal[SNMP_PROFILES]
