"""A window's traffic and request columns (WindowInputs' arrays) from rows written by hand."""

from __future__ import annotations

from typing import Any

import numpy as np


def traffic(rows: list[tuple[int, str, int, float, float]]) -> dict[str, Any]:
    """(nf index, app, direction, packets, bytes) rows as the traffic_* columns."""
    return {
        "traffic_nf": np.array([r[0] for r in rows], dtype=np.int64),
        "traffic_app": np.array([r[1] for r in rows], dtype=object),
        "traffic_dir": np.array([r[2] for r in rows], dtype=np.int64),
        "traffic_packets": np.array([r[3] for r in rows], dtype=float),
        "traffic_bytes": np.array([r[4] for r in rows], dtype=float),
    }


def requests(rows: list[tuple[int, str, float]]) -> dict[str, Any]:
    """(nf index, app, count) rows as the req_* columns."""
    return {
        "req_nf": np.array([r[0] for r in rows], dtype=np.int64),
        "req_app": np.array([r[1] for r in rows], dtype=object),
        "req_count": np.array([r[2] for r in rows], dtype=float),
    }
