"""A plain drawing of a route (numbered stops joined in order) for when no map can load:
no map library installed, or no network for tiles. The page's script replaces it with the
Leaflet map when it can."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT, PAD = 320.0, 200.0, 16.0


def sketch(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stops ({lat, lon, seq, kind}) projected into a WIDTH × HEIGHT box, north up, with the
    east-west distances shrunk by cos(latitude) so the shape is not stretched."""
    if not points:
        return {"width": WIDTH, "height": HEIGHT, "line": "", "dots": []}
    lats = [float(p["lat"]) for p in points]
    lons = [float(p["lon"]) for p in points]
    squeeze = math.cos(math.radians(sum(lats) / len(lats)))
    xs = [lon * squeeze for lon in lons]
    span = max(max(xs) - min(xs), max(lats) - min(lats), 1e-6)
    scale = min(WIDTH - 2 * PAD, HEIGHT - 2 * PAD) / span
    # Centre the drawing in the box.
    off_x = (WIDTH - (max(xs) - min(xs)) * scale) / 2
    off_y = (HEIGHT - (max(lats) - min(lats)) * scale) / 2
    dots = [
        {
            **p,
            "x": round(off_x + (x - min(xs)) * scale, 1),
            "y": round(HEIGHT - off_y - (lat - min(lats)) * scale, 1),
        }
        for p, x, lat in zip(points, xs, lats, strict=True)
    ]
    line = " ".join(f"{d['x']},{d['y']}" for d in dots)
    return {"width": WIDTH, "height": HEIGHT, "line": line, "dots": dots}
