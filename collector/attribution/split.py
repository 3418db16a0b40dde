"""The split of one window (docs/explanation/attribution.md), vectorised over (app, NF) entries.

E_app,n = S_n × share_static + D_n × share_dynamic, with share = x_app / (Σ x + u); the
unattributed energy is computed from its own parts (untagged, idle_no_traffic, catch_up) so that
the conservation check Σ app + U = E is a real check, not an identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from collector.attribution.inputs import KEY_CODE, WindowInputs
from collector.units import JOULES_PER_KWH

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]  # noqa: E741


@dataclass(frozen=True, slots=True)
class WindowSplit:
    """Entries (one row per app, NF and direction) and per-NF results, index-aligned to inputs.nfs.

    CO2 is nan where the zone's intensity is missing (never zero)."""

    entry_nf: I
    entry_app: npt.NDArray[np.object_]
    entry_dir: I
    static_joules: F
    dynamic_joules: F
    co2_grams: F
    co2_market_grams: F
    embodied_grams: F
    measured_joules: F
    catch_up_joules: F
    static_nf_joules: F
    dynamic_nf_joules: F
    attributed_joules: F
    untagged_joules: F
    idle_no_traffic_joules: F
    conservation_error_ratio: F
    stale: npt.NDArray[np.bool_]
    tagged_only: npt.NDArray[np.bool_]
    clamps: I
    co2_missing_joules: F
    embodied_nf_grams: F
    traffic_nf: I
    traffic_app: npt.NDArray[np.object_]
    traffic_packets: F
    traffic_bytes: F


def _entries(inp: WindowInputs, needs_requests: npt.NDArray[np.bool_]) -> pd.DataFrame:
    """One row per (nf, app): packets/bytes per direction and requests at that NF. Apps are
    factorised to integer codes once, so the grouping is a bincount, not a string group-by."""
    d = inp.traffic_dir
    own = np.zeros(len(inp.nfs), dtype=bool)
    own[[i for i, nf in enumerate(inp.nfs) if nf.has_requests_source]] = True
    rn = inp.req_nf
    owner = np.maximum(rn, 0)
    keep = (rn >= 0) & needs_requests[owner] & own[owner]
    req_nf, req_app, req_n = [rn[keep]], [inp.req_app[keep]], [inp.req_count[keep]]
    app_level = rn < 0
    for i in np.flatnonzero(needs_requests & ~own):
        req_nf.append(np.full(int(app_level.sum()), i, dtype=np.int64))
        req_app.append(inp.req_app[app_level])
        req_n.append(inp.req_count[app_level])
    nf = np.concatenate([inp.traffic_nf, *req_nf]).astype(np.int64)
    apps = np.concatenate([inp.traffic_app, *req_app])
    n_t = len(inp.traffic_nf)
    codes, uniques = pd.factorize(apps)
    key = nf * max(len(uniques), 1) + codes
    entry, keys = pd.factorize(key)
    n = len(keys)
    t_entry = entry[:n_t]
    pk, by = inp.traffic_packets, inp.traffic_bytes
    cols = {
        "nf": keys // max(len(uniques), 1),
        "app": np.asarray(uniques, dtype=object)[keys % max(len(uniques), 1)]
        if n
        else np.zeros(0, dtype=object),
        "pu": np.bincount(t_entry, np.where(d == 0, pk, 0.0), minlength=n),
        "pd": np.bincount(t_entry, np.where(d == 1, pk, 0.0), minlength=n),
        "bu": np.bincount(t_entry, np.where(d == 0, by, 0.0), minlength=n),
        "bd": np.bincount(t_entry, np.where(d == 1, by, 0.0), minlength=n),
        "r": np.bincount(entry[n_t:], np.concatenate([np.zeros(0), *req_n]), minlength=n),
    }
    return pd.DataFrame(cols)


def _key_matrix(e: pd.DataFrame) -> F:
    packets = e["pu"].to_numpy() + e["pd"].to_numpy()
    bytes_ = e["bu"].to_numpy() + e["bd"].to_numpy()
    req = e["r"].to_numpy()
    equal = ((packets > 0) | (bytes_ > 0) | (req > 0)).astype(float)
    return np.column_stack([packets, bytes_, req, equal])


def _direction_uplink_fraction(e: pd.DataFrame, dyn_key: I) -> F:
    """Uplink fraction from the dynamic key's per-direction amounts, else bytes, else packets,
    else all uplink (the request direction)."""
    pu, pd_, bu, bd = (e[c].to_numpy() for c in ("pu", "pd", "bu", "bd"))
    frac = np.ones(len(e))
    done = np.zeros(len(e), dtype=bool)
    is_packets = dyn_key == KEY_CODE["packets"]
    for up, down, allowed in ((pu, pd_, is_packets), (bu, bd, ~is_packets), (pu, pd_, True)):
        tot = up + down
        use = ~done & allowed & (tot > 0)
        frac[use] = up[use] / tot[use]
        done |= use
    return frac


def split_window(inp: WindowInputs) -> WindowSplit:
    """Split every fresh NF's energy over the apps seen at it in this window."""
    nfs = inp.nfs
    n_nf = len(nfs)
    stale = np.array([nf.energy_joules is None for nf in nfs], dtype=bool)
    regular = np.array([nf.energy_joules or 0.0 for nf in nfs])
    catch = np.where(stale, 0.0, [nf.catch_up_joules for nf in nfs])
    idle = np.array([nf.idle_joules for nf in nfs])
    s_key = np.array([KEY_CODE[nf.spec.static_key] for nf in nfs], dtype=np.int64)
    d_key = np.array([KEY_CODE[nf.spec.dynamic_key] for nf in nfs], dtype=np.int64)
    needs_req = np.isin(s_key, [2, 3]) | np.isin(d_key, [2, 3])
    e = _entries(inp, needs_req)
    nf_idx = e["nf"].to_numpy().astype(np.int64)
    x = _key_matrix(e)
    rows = np.arange(len(e))

    tagged_p = np.bincount(nf_idx, x[:, 0], minlength=n_nf)
    tagged_b = np.bincount(nf_idx, x[:, 1], minlength=n_nf)
    has_total = np.array([nf.total_packets is not None for nf in nfs], dtype=bool)
    raw_up = np.array([nf.total_packets or 0.0 for nf in nfs]) - tagged_p
    raw_ub = np.array([nf.total_bytes or 0.0 for nf in nfs]) - tagged_b
    clamps = (has_total & (raw_up < 0)).astype(np.int64) + (has_total & (raw_ub < 0))
    u_p = np.where(has_total, np.maximum(raw_up, 0.0), 0.0)
    u_b = np.where(has_total, np.maximum(raw_ub, 0.0), 0.0)
    u = np.column_stack([u_p, u_b, np.zeros(n_nf), ((u_p > 0) | (u_b > 0)).astype(float)])

    static_nf = np.minimum(idle, regular)
    dynamic_nf = regular - static_nf
    parts = []
    for key, energy in ((s_key, static_nf), (d_key, dynamic_nf)):
        xk = x[rows, key[nf_idx]]
        uk = u[np.arange(n_nf), key]
        den = np.bincount(nf_idx, xk, minlength=n_nf) + uk
        safe = np.where(den > 0, den, 1.0)
        share = np.where(den[nf_idx] > 0, xk / safe[nf_idx], 0.0)
        untagged = np.where(den > 0, energy * (uk / safe), 0.0)
        no_traffic = np.where(den > 0, 0.0, energy)
        parts.append((share, energy[nf_idx] * share, untagged, no_traffic))
    (share_s, app_static, unt_s, idle_s), (_, app_dynamic, unt_d, idle_d) = parts
    live = ~stale[nf_idx]
    app_static, app_dynamic = np.where(live, app_static, 0.0), np.where(live, app_dynamic, 0.0)
    measured = regular + catch
    attributed = np.bincount(nf_idx, app_static + app_dynamic, minlength=n_nf).astype(float)
    untagged = np.where(stale, 0.0, unt_s + unt_d)
    no_traffic = np.where(stale, 0.0, idle_s + idle_d)

    intensity = np.array([np.nan if nf.intensity is None else nf.intensity for nf in nfs])
    market = np.array(
        [np.nan if nf.market_intensity is None else nf.market_intensity for nf in nfs]
    )
    embodied_nf = np.where(
        stale, 0.0, [nf.spec.embodied_grams_per_hour * inp.seconds / 3600.0 for nf in nfs]
    )
    embodied = np.where(live, embodied_nf[nf_idx] * share_s, 0.0)
    up = _direction_uplink_fraction(e, d_key[nf_idx])
    rows_ = _direction_rows(e, nf_idx, up, app_static, app_dynamic, embodied, intensity, market)
    err = conservation_error_ratio(
        measured,
        rows_["entry_nf"],
        rows_["static_joules"] + rows_["dynamic_joules"],
        untagged + no_traffic + catch,
    )
    return WindowSplit(
        **rows_,
        measured_joules=measured,
        catch_up_joules=catch,
        static_nf_joules=np.where(stale, 0.0, static_nf),
        dynamic_nf_joules=np.where(stale, 0.0, dynamic_nf),
        attributed_joules=attributed,
        untagged_joules=untagged,
        idle_no_traffic_joules=no_traffic,
        conservation_error_ratio=err,
        stale=stale,
        tagged_only=~has_total & (np.isin(s_key, [0, 1, 3]) | np.isin(d_key, [0, 1, 3])),
        clamps=clamps,
        co2_missing_joules=np.where(np.isnan(intensity) & ~stale, measured, 0.0),
        embodied_nf_grams=embodied_nf,
        **_traffic(e, nf_idx, x),
    )


def conservation_error_ratio(measured: F, entry_nf: I, entry_joules: F, unattributed: F) -> F:
    """Per NF, |Σ published app rows + unattributed − measured| / measured (/ 1 J when nothing
    was measured). Computed from the rows the outputs publish, so energy lost or created anywhere
    in the split, the direction split included, shows here and in E2EEnergyConservationError."""
    rows = np.bincount(entry_nf, entry_joules, minlength=len(measured))
    return np.abs(rows + unattributed - measured) / np.where(measured > 0, measured, 1.0)


def _traffic(e: pd.DataFrame, nf_idx: I, x: F) -> dict[str, Any]:
    """The tagged packets and bytes of each (app, NF) entry that had any, both directions summed:
    the x amounts of the packets and bytes keys, kept so that outputs can report traffic."""
    has = (x[:, 0] > 0) | (x[:, 1] > 0)
    return {
        "traffic_nf": nf_idx[has],
        "traffic_app": e["app"].to_numpy()[has],
        "traffic_packets": x[has, 0],
        "traffic_bytes": x[has, 1],
    }


def _direction_rows(
    e: pd.DataFrame,
    nf_idx: I,
    up: F,
    app_static: F,
    app_dynamic: F,
    embodied: F,
    intensity: F,
    market: F,
) -> dict[str, Any]:
    """Expand each (app, NF) entry into uplink and downlink rows; rows with neither energy nor
    embodied emissions (a zero direction fraction, or no share at all) are dropped. CO2 on both
    bases."""
    n = len(up)
    fracs = np.concatenate([up, 1.0 - up])
    energy = np.concatenate([app_static + app_dynamic] * 2) * fracs
    emb = np.concatenate([embodied] * 2) * fracs
    rows = np.flatnonzero((fracs > 0) & ((energy > 0) | (emb > 0)))
    entry = rows % n if n else rows
    frac = fracs[rows]
    nf = nf_idx[entry]
    kwh = energy[rows] / JOULES_PER_KWH
    return {
        "entry_nf": nf,
        "entry_app": e["app"].to_numpy()[entry],
        "entry_dir": (rows >= n).astype(np.int64),
        "static_joules": app_static[entry] * frac,
        "dynamic_joules": app_dynamic[entry] * frac,
        "co2_grams": kwh * intensity[nf],
        "co2_market_grams": kwh * market[nf],
        "embodied_grams": embodied[entry] * frac,
    }
