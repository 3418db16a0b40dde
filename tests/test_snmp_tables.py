"""The SNMP profile table is the one list of profile names: the settings accept exactly its
names, the power stage can walk and parse each of them, and the how-to names each one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.power.snmp_profiles import parse_profile, profile_columns
from collector.settings import SettingsError, SnmpSource, parse_settings
from collector.snmp_tables import GENERIC, IF_MIB, PROFILES, RARITAN_TABLES, SNMP_PROFILES

HOWTO = Path(__file__).resolve().parent.parent / "docs" / "how-to" / "add-a-pdu.md"


def _source(profile: str) -> dict[str, object]:
    src: dict[str, object] = {"name": "p", "kind": "snmp", "address": "h", "profile": profile}
    if profile == GENERIC:
        src.update(oid="1.3.6.1.4.1.9.9", unit="W")
    return src


def test_names_are_the_tables_keys_and_the_two_special_profiles() -> None:
    assert len(set(SNMP_PROFILES)) == len(SNMP_PROFILES)
    assert set(SNMP_PROFILES) == {*PROFILES, *RARITAN_TABLES, "if_mib", "generic"}
    assert (IF_MIB, GENERIC) == ("if_mib", "generic")


@pytest.mark.parametrize("profile", SNMP_PROFILES)
def test_settings_accept_every_profile_in_the_table(profile: str) -> None:
    (s,) = parse_settings({"sources": [_source(profile)]}).sources
    assert isinstance(s, SnmpSource) and s.profile == profile


def test_settings_reject_a_name_outside_the_table() -> None:
    with pytest.raises(SettingsError, match=r"sources\.0\.snmp\.profile: Input should be"):
        parse_settings({"sources": [_source("apc_rpdu2_outlets")]})


@pytest.mark.parametrize("profile", [*PROFILES, *RARITAN_TABLES])
def test_power_walks_and_parses_every_table_profile(profile: str) -> None:
    columns = profile_columns(profile)
    assert columns and all(len(oid) > 9 and oid[:6] == (1, 3, 6, 1, 4, 1) for oid in columns)
    assert parse_profile({}, profile, source="p", t=0.0) == []


def test_the_how_to_names_every_profile() -> None:
    named = set(re.findall(r"`([a-z0-9_]+)`", HOWTO.read_text(encoding="utf-8")))
    assert set(SNMP_PROFILES) - named == set()
