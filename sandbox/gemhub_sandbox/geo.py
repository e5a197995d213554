"""Coordinate reference systems without pyproj.

The sandbox must run in environments without GDAL/PROJ, so the handful of CRSs
that Sentinel Hub users actually send (WGS84, Web Mercator, UTM north/south) are
implemented here with closed-form formulas accurate to millimetres.
"""
from __future__ import annotations

import math
import re

import numpy as np

from .errors import ApiError

_A = 6378137.0
_F = 1 / 298.257223563
_N = _F / (2 - _F)
_AA = _A / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64)
_K0 = 0.9996
_BETA = (_N / 2 - 2 * _N**2 / 3 + 37 * _N**3 / 96, _N**2 / 48 + _N**3 / 15, 17 * _N**3 / 480)
_DELTA = (2 * _N - 2 * _N**2 / 3 - 2 * _N**3, 7 * _N**2 / 3 - 8 * _N**3 / 5, 56 * _N**3 / 15)

_CRS_PATTERNS = (
    re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/0/(\d+)$"),
    re.compile(r"^urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$"),
    re.compile(r"^EPSG:(\d+)$", re.IGNORECASE),
)
_CRS84 = {"http://www.opengis.net/def/crs/OGC/1.3/CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84", "CRS84"}


def parse_crs(value: str | None) -> int:
    """Return an EPSG code; CRS84 maps to 4326 because both use lon/lat order in Sentinel Hub."""
    if value is None:
        return 4326
    if not isinstance(value, str):
        raise ApiError(400, "Invalid CRS: expected a string", code="COMMON_BAD_PAYLOAD")
    text = value.strip()
    if text in _CRS84:
        return 4326
    for pattern in _CRS_PATTERNS:
        match = pattern.match(text)
        if match:
            epsg = int(match.group(1))
            if is_supported(epsg):
                return epsg
            raise ApiError(400, f"CRS {text} is not supported by the sandbox "
                           "(supported: EPSG:4326, EPSG:3857, UTM 326xx/327xx)", code="COMMON_BAD_PAYLOAD")
    raise ApiError(400, f"Invalid CRS: {text}", code="COMMON_BAD_PAYLOAD")


# Coordinates a bbox may have in each kind of CRS (generous: UTM zones overlap their neighbours).
_EXTENTS = {"lonlat": (180.0, 90.0), "mercator": (20037508.35, 20048966.11), "utm": (5_000_000.0, 20_000_000.0)}


def check_extent(epsg: int, bbox: tuple[float, float, float, float], name: str) -> None:
    """Refuse coordinates that cannot be on Earth in this CRS (they would otherwise reach the renderer)."""
    kind = "lonlat" if epsg == 4326 else "mercator" if epsg in (3857, 900913) else "utm"
    max_x, max_y = _EXTENTS[kind]
    if not all(abs(v) <= limit for v, limit in zip(bbox, (max_x, max_y, max_x, max_y))):
        raise ApiError(400, f"'{name}' {list(bbox)} is outside the valid coordinates of EPSG:{epsg} "
                       f"(|x| <= {max_x:g}, |y| <= {max_y:g}).", code="COMMON_BAD_PAYLOAD")


def is_supported(epsg: int) -> bool:
    return epsg in (4326, 3857, 900913) or 32601 <= epsg <= 32660 or 32701 <= epsg <= 32760


def to_lonlat(epsg: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if epsg == 4326:
        return x, y
    if epsg in (3857, 900913):
        lon = np.degrees(x / _A)
        lat = np.degrees(2 * np.arctan(np.exp(y / _A)) - np.pi / 2)
        return lon, lat
    zone, south = _utm_zone(epsg)
    return _utm_inverse(x, y, zone, south)


def _utm_zone(epsg: int) -> tuple[int, bool]:
    if 32601 <= epsg <= 32660:
        return epsg - 32600, False
    return epsg - 32700, True


def _utm_inverse(x, y, zone, south):
    lon0 = math.radians(zone * 6 - 183)
    xi = (y - (10000000.0 if south else 0.0)) / (_K0 * _AA)
    eta = (x - 500000.0) / (_K0 * _AA)
    xi_p = xi.copy()
    eta_p = eta.copy()
    for j, beta in enumerate(_BETA, start=1):
        xi_p -= beta * np.sin(2 * j * xi) * np.cosh(2 * j * eta)
        eta_p -= beta * np.cos(2 * j * xi) * np.sinh(2 * j * eta)
    chi = np.arcsin(np.sin(xi_p) / np.cosh(eta_p))
    phi = chi.copy()
    for j, delta in enumerate(_DELTA, start=1):
        phi += delta * np.sin(2 * j * chi)
    lam = lon0 + np.arctan2(np.sinh(eta_p), np.cos(xi_p))
    return np.degrees(lam), np.degrees(phi)


def axis_weights(n_out: int, coarse_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left neighbour index and weight for linear interpolation from coarse positions to 0..n_out-1."""
    pos = np.arange(n_out, dtype=np.float64)
    idx = np.clip(np.searchsorted(coarse_pos, pos, side="right") - 1, 0, len(coarse_pos) - 2)
    w = (pos - coarse_pos[idx]) / (coarse_pos[idx + 1] - coarse_pos[idx])
    return idx, w


def upsample(coarse: np.ndarray, rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray]):
    """Separable bilinear upsampling by gathering: O(H*W), unlike dense interpolation matrices."""
    ci, cw = cols
    ri, rw = rows
    across = coarse[:, ci] * (1 - cw) + coarse[:, ci + 1] * cw
    return across[ri] * (1 - rw)[:, None] + across[ri + 1] * rw[:, None]


class PixelGrid:
    """Output raster geometry; pixel centres are converted to lon/lat on a sparse
    lattice and interpolated because projections are smooth at request scale and
    full-resolution trigonometry would dominate the latency budget."""

    STEP = 16

    def __init__(self, epsg: int, bbox: tuple[float, float, float, float], width: int, height: int):
        self.epsg = epsg
        self.bbox = bbox
        self.width = width
        self.height = height
        minx, miny, maxx, maxy = bbox
        self.dx = (maxx - minx) / width
        self.dy = (maxy - miny) / height
        cols = np.unique(np.append(np.arange(0, width, self.STEP), width - 1)).astype(np.float64)
        rows = np.unique(np.append(np.arange(0, height, self.STEP), height - 1)).astype(np.float64)
        if len(cols) == 1:
            cols = np.array([0.0, 1.0])
        if len(rows) == 1:
            rows = np.array([0.0, 1.0])
        xs = minx + (cols + 0.5) * self.dx
        ys = maxy - (rows + 0.5) * self.dy
        gx, gy = np.meshgrid(xs, ys)
        glon, glat = to_lonlat(epsg, gx, gy)
        rw = axis_weights(height, rows)
        cw = axis_weights(width, cols)
        self.lon = upsample(glon, rw, cw)
        self.lat = upsample(glat, rw, cw)
        self.lat_mean = float(self.lat.mean())

    def pixel_size_m(self) -> float:
        """Approximate ground pixel size, used to pick noise detail levels."""
        lat = self.lat_mean
        if self.epsg == 4326:
            return abs(self.dx) * 111320.0 * max(math.cos(math.radians(lat)), 0.05)
        if self.epsg in (3857, 900913):
            return abs(self.dx) * math.cos(math.radians(lat))
        return abs(self.dx)

    def geometry_mask(self, geometry: dict | None) -> np.ndarray | None:
        """Rasterise a (Multi)Polygon in the request CRS with the even-odd rule on pixel centres."""
        if not geometry:
            return None
        gtype = geometry.get("type")
        coords = geometry.get("coordinates")
        if gtype == "Polygon":
            polygons = [coords]
        elif gtype == "MultiPolygon":
            polygons = coords
        else:
            raise ApiError(400, f"Unsupported geometry type {gtype}", code="COMMON_BAD_PAYLOAD")
        minx, _, _, maxy = self.bbox
        xs = minx + (np.arange(self.width) + 0.5) * self.dx
        ys = maxy - (np.arange(self.height) + 0.5) * self.dy
        mask = np.zeros((self.height, self.width), dtype=bool)
        try:
            for polygon in polygons:
                for ring in polygon:
                    ring = np.asarray(ring, dtype=np.float64)[:, :2]
                    mask ^= _ring_mask(ring, xs, ys)
        except (TypeError, ValueError, IndexError) as exc:
            raise ApiError(400, f"Invalid geometry: {exc}", code="COMMON_BAD_PAYLOAD") from exc
        return mask


def _ring_mask(ring: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Scanline crossing counts per row: O(rows * edges) plus a cumulative sum across columns."""
    height, width = len(ys), len(xs)
    counts = np.zeros((height, width + 1), dtype=np.int32)
    x0, y0 = ring[:-1, 0], ring[:-1, 1]
    x1, y1 = ring[1:, 0], ring[1:, 1]
    yy = ys[:, None]
    crosses = (y0[None, :] > yy) != (y1[None, :] > yy)
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = x0[None, :] + (yy - y0[None, :]) * (x1 - x0)[None, :] / (y1 - y0)[None, :]
    rows, edges = np.nonzero(crosses)
    col = np.searchsorted(xs, xint[rows, edges])
    np.add.at(counts, (rows, col), 1)
    return (np.cumsum(counts[:, :width], axis=1) % 2).astype(bool)
