"""A procedural, seasonal Earth defined purely as a function of (lon, lat, date).

Everything is a deterministic function of world coordinates so that adjacent or
overlapping requests agree, and results are identical on any machine. Smooth
fields are sampled on a sparse lattice and interpolated when the pixel size is
much finer than the field's scale; that keeps a 512x512 render in tens of ms.
"""
from __future__ import annotations

import math

import numpy as np

from .geo import axis_weights, upsample

BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
BAND_INDEX = {name: i for i, name in enumerate(BANDS)}
NATIVE_RESOLUTION = {"B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20, "B08": 10,
                     "B8A": 20, "B09": 60, "B10": 60, "B11": 20, "B12": 20}

# Surface reflectance endmembers (order of BANDS). B09/B10 are atmospheric bands; at
# the surface they simply follow the neighbouring NIR/SWIR behaviour.
ENDMEMBERS = np.array([
    # B01   B02    B03    B04    B05    B06    B07    B08    B8A    B09    B10    B11    B12
    [0.030, 0.035, 0.075, 0.035, 0.110, 0.300, 0.380, 0.420, 0.430, 0.420, 0.004, 0.200, 0.090],  # green veg
    [0.050, 0.060, 0.090, 0.120, 0.160, 0.200, 0.220, 0.240, 0.250, 0.250, 0.004, 0.320, 0.240],  # dry veg
    [0.060, 0.080, 0.110, 0.150, 0.180, 0.210, 0.230, 0.250, 0.260, 0.260, 0.004, 0.340, 0.280],  # soil
    [0.060, 0.062, 0.058, 0.030, 0.020, 0.012, 0.010, 0.008, 0.007, 0.006, 0.001, 0.004, 0.003],  # water
    [0.100, 0.110, 0.120, 0.130, 0.140, 0.150, 0.160, 0.170, 0.170, 0.170, 0.004, 0.200, 0.190],  # urban
    [0.900, 0.900, 0.880, 0.860, 0.840, 0.800, 0.780, 0.750, 0.720, 0.650, 0.010, 0.080, 0.060],  # snow
    [0.120, 0.140, 0.170, 0.200, 0.220, 0.240, 0.250, 0.260, 0.270, 0.270, 0.006, 0.300, 0.260],  # rock
], dtype=np.float32)
EM_GREEN, EM_DRY, EM_SOIL, EM_WATER, EM_URBAN, EM_SNOW, EM_ROCK = range(7)

# Land-cover classes
WATER, FOREST_DECIDUOUS, FOREST_CONIFEROUS, CROPLAND, GRASSLAND, URBAN, ROCK, SNOW = range(8)
CLASS_NAMES = ("water", "deciduous forest", "coniferous forest", "cropland", "grassland", "urban", "bare rock",
               "permanent snow")

# Phenology: (day-of-year knots, green fraction, dryness of the non-green part).
# Types 0-3 are crops, then grassland, deciduous, coniferous, urban greenery.
_PHENOLOGY = (
    ((0, 60, 100, 140, 170, 195, 205, 280, 300, 366),
     (0.30, 0.30, 0.55, 0.90, 0.85, 0.35, 0.05, 0.05, 0.25, 0.30),
     (0.0, 0.0, 0.0, 0.0, 0.3, 1.0, 0.5, 0.2, 0.0, 0.0)),           # winter cereal
    ((0, 120, 150, 190, 240, 265, 280, 366),
     (0.05, 0.05, 0.20, 0.90, 0.85, 0.40, 0.05, 0.05),
     (0.3, 0.1, 0.0, 0.0, 0.2, 1.0, 0.5, 0.3)),                    # maize
    ((0, 80, 110, 150, 180, 200, 366),
     (0.35, 0.45, 0.90, 0.85, 0.30, 0.05, 0.35),
     (0.0, 0.0, 0.0, 0.1, 1.0, 0.4, 0.0)),                         # rapeseed
    ((0, 150, 366), (0.10, 0.30, 0.10), (0.5, 0.3, 0.5)),          # fallow
    ((0, 90, 140, 180, 240, 300, 366),
     (0.45, 0.55, 0.85, 0.75, 0.65, 0.55, 0.45),
     (0.3, 0.1, 0.0, 0.1, 0.3, 0.3, 0.3)),                         # grassland
    ((0, 100, 140, 270, 310, 366),
     (0.35, 0.40, 0.90, 0.88, 0.45, 0.35),
     (0.6, 0.4, 0.0, 0.0, 0.6, 0.6)),                              # deciduous
    ((0, 120, 200, 300, 366), (0.75, 0.78, 0.88, 0.80, 0.75), (0.1, 0.1, 0.1, 0.1, 0.1)),  # coniferous
    ((0, 366), (0.15, 0.15), (0.3, 0.3)),                          # urban greenery
)
PH_GRASS, PH_DECID, PH_CONIF, PH_URBAN = 4, 5, 6, 7

# Landmarks give notebooks and tests places with known content.
RESERVOIR = {"lon": 14.60, "lat": 46.10, "a": 1800.0, "b": 900.0}
FARMLAND = {"lon": 15.20, "lat": 45.80, "radius": 6000.0}
DEMO_SITES = {
    "reservoir": (14.56, 46.08, 14.64, 46.12),
    "farmland": (15.17, 45.78, 15.23, 45.82),
}

M_PER_DEG_LAT = 110574.0
M_PER_DEG_LON = 111320.0


def _hash01(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """Integer lattice hash -> [0, 1); uint32 arithmetic wraps identically everywhere."""
    h = ix.astype(np.uint32) * np.uint32(0x27D4EB2D)
    h ^= iy.astype(np.uint32) * np.uint32(0x165667B1)
    h ^= np.uint32(seed & 0xFFFFFFFF)
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x2C1B3C6D)
    h ^= h >> np.uint32(12)
    h *= np.uint32(0x297A2D39)
    h ^= h >> np.uint32(15)
    return h.astype(np.float64) * (1.0 / 4294967296.0)


def value_noise(u: np.ndarray, v: np.ndarray, scale: float, seed: int) -> np.ndarray:
    x = u / scale
    y = v / scale
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = x - x0
    fy = y - y0
    fx = fx * fx * (3 - 2 * fx)
    fy = fy * fy * (3 - 2 * fy)
    ix = x0.astype(np.int64)
    iy = y0.astype(np.int64)
    a = _hash01(ix, iy, seed)
    b = _hash01(ix + 1, iy, seed)
    c = _hash01(ix, iy + 1, seed)
    d = _hash01(ix + 1, iy + 1, seed)
    top = a + (b - a) * fx
    bottom = c + (d - c) * fx
    return top + (bottom - top) * fy


def seed_of(*parts) -> int:
    """Stable small integer seed from strings/ints (Python's hash() is salted per process)."""
    h = 2166136261
    for part in parts:
        for byte in str(part).encode():
            h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
        h = ((h ^ 0x2F) * 16777619) & 0xFFFFFFFF
    return h


def world_metres(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u = lon * M_PER_DEG_LON * np.cos(np.radians(lat))
    v = lat * M_PER_DEG_LAT
    return u, v


class Sampler:
    """Evaluates world fields on a 2-D pixel array, sparsely when the field is smooth."""

    def __init__(self, lon: np.ndarray, lat: np.ndarray, pixel_size: float):
        self.lon = lon
        self.lat = lat
        self.lat_mean = float(np.mean(lat))
        self.u, self.v = world_metres(lon, lat)
        self.pixel_size = max(float(pixel_size), 1e-3)
        self.shape = lon.shape
        self._subgrids: dict[int, tuple] = {}

    def _subgrid(self, stride: int):
        if stride not in self._subgrids:
            height, width = self.shape
            rows = np.unique(np.append(np.arange(0, height, stride), height - 1))
            cols = np.unique(np.append(np.arange(0, width, stride), width - 1))
            sub_u = self.u[np.ix_(rows, cols)]
            sub_v = self.v[np.ix_(rows, cols)]
            wy = axis_weights(height, rows.astype(np.float64)) if len(rows) > 1 else None
            wx = axis_weights(width, cols.astype(np.float64)) if len(cols) > 1 else None
            self._subgrids[stride] = (sub_u, sub_v, wy, wx)
        return self._subgrids[stride]

    def noise(self, scale: float, seed: int, du: float = 0.0, dv: float = 0.0) -> np.ndarray:
        stride = int(scale / (6.0 * self.pixel_size))
        if stride < 2 or min(self.shape) < 8:
            return value_noise(self.u + du, self.v + dv, scale, seed)
        stride = min(stride, 64)
        sub_u, sub_v, wy, wx = self._subgrid(stride)
        coarse = value_noise(sub_u + du, sub_v + dv, scale, seed)
        if wy is None or wx is None:
            return np.broadcast_to(coarse.mean(), self.shape).copy()
        return upsample(coarse, wy, wx)

    def fbm(self, scales_weights, seed: int, du: float = 0.0, dv: float = 0.0) -> np.ndarray:
        total = None
        for k, (scale, weight) in enumerate(scales_weights):
            layer = weight * self.noise(scale, seed + 7919 * k, du, dv)
            total = layer if total is None else total + layer
        return total


def _landmark_coords(sampler: Sampler, lon0: float, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    du = (sampler.lon - lon0) * M_PER_DEG_LON * math.cos(math.radians(lat0))
    dv = (sampler.lat - lat0) * M_PER_DEG_LAT
    return du, dv


class Terrain:
    """Static (date-independent) part of the landscape for one request grid."""

    def __init__(self, sampler: Sampler):
        self.s = sampler
        s = sampler
        e1 = s.noise(45000, 11)
        e2 = s.noise(9000, 12)
        e3 = s.noise(1500, 13)
        elev = 150 + 2900 * e1**2.4 + 450 * (e2 - 0.5) + 90 * (e3 - 0.5)
        rdu, rdv = _landmark_coords(s, RESERVOIR["lon"], RESERVOIR["lat"])
        fdu, fdv = _landmark_coords(s, FARMLAND["lon"], FARMLAND["lat"])
        near = np.exp(-(rdu**2 + rdv**2) / 15000.0**2) + np.exp(-(fdu**2 + fdv**2) / 15000.0**2)
        near = np.clip(near, 0, 1)
        elev = elev * (1 - near) + (280 + 40 * (e3 - 0.5)) * near
        self.elevation = elev
        self.lake_field = 0.7 * s.noise(6000, 21) + 0.3 * s.noise(1500, 22)
        self.shore_noise = s.noise(400, 23)
        self._reservoir_r = np.sqrt((rdu / RESERVOIR["a"]) ** 2 + (rdv / RESERVOIR["b"]) ** 2) \
            - 0.25 * (self.shore_noise - 0.5)
        urban = 0.6 * s.noise(5000, 31) + 0.4 * s.noise(800, 32)
        forest = 0.6 * s.noise(3000, 41) + 0.4 * s.noise(600, 42) + (elev - 500) / 2500
        conifer = s.noise(2000, 43) + (elev - 700) / 1200
        crop = s.noise(7000, 51)
        farmland = (fdu**2 + fdv**2) < FARMLAND["radius"] ** 2

        cls = np.full(s.shape, GRASSLAND, dtype=np.uint8)
        cls[(crop > 0.45) & (elev < 900)] = CROPLAND
        cls[farmland] = CROPLAND
        is_forest = (forest > 0.66) & ~farmland
        cls[is_forest & (conifer <= 0.75)] = FOREST_DECIDUOUS
        cls[is_forest & (conifer > 0.75)] = FOREST_CONIFEROUS
        cls[(urban > 0.76) & (elev < 1000) & ~farmland] = URBAN
        cls[elev > 2200] = ROCK
        cls[elev > 2750] = SNOW
        self.land_class = cls

        theta = 0.3
        pu = s.u * math.cos(theta) + s.v * math.sin(theta)
        pv = -s.u * math.sin(theta) + s.v * math.cos(theta)
        prow = np.floor(pv / 260.0)
        pcol = np.floor((pu + prow * 97.0) / 210.0)
        self.parcel_row = prow.astype(np.int64)
        self.parcel_col = pcol.astype(np.int64)
        tex_scale = max(40.0, 2.5 * s.pixel_size)
        self.texture = s.noise(tex_scale, 61)
        self._ptype: dict[int, np.ndarray] = {}
        self._grain_idx = None

    def grain(self, seed: int) -> np.ndarray:
        """Per-scene sensor noise on a fixed 10 m world lattice (so it is independent of the request grid)."""
        if self._grain_idx is None:
            self._grain_idx = (np.round(self.s.u / 10).astype(np.int64), np.round(self.s.v / 10).astype(np.int64))
        noise = _hash01(self._grain_idx[0], self._grain_idx[1], seed)
        return ((noise - 0.5) * 0.006).astype(np.float32)

    def water_weight(self, doy: float, lat: float) -> np.ndarray:
        """Fractional water cover; lakes breathe with the seasons (max in spring, min in autumn)."""
        season = _season_doy(doy, lat)
        thr = 0.80 + 0.012 * math.sin(2 * math.pi * (season - 100) / 365.0)
        lakes = np.clip((self.lake_field - thr) / 0.015, 0, 1)
        lakes[self.elevation > 1900] = 0
        extent = 1.0 + 0.12 * math.cos(2 * math.pi * (season - 105) / 365.0)
        reservoir = np.clip((extent - self._reservoir_r) / 0.04, 0, 1)
        return np.maximum(lakes, reservoir)

    def phenology_type(self, year: int) -> np.ndarray:
        if year not in self._ptype:
            self._ptype[year] = self._phenology_type(year)
        return self._ptype[year]

    def _phenology_type(self, year: int) -> np.ndarray:
        cls = self.land_class
        crops = (_hash01(self.parcel_row, self.parcel_col, seed_of("crop", year)) * 100).astype(np.int64)
        crop_type = np.select([crops < 35, crops < 70, crops < 82], [0, 1, 2], default=3)
        ptype = np.full(cls.shape, PH_GRASS, dtype=np.int64)
        ptype[cls == CROPLAND] = crop_type[cls == CROPLAND]
        ptype[cls == FOREST_DECIDUOUS] = PH_DECID
        ptype[cls == FOREST_CONIFEROUS] = PH_CONIF
        ptype[cls == URBAN] = PH_URBAN
        return ptype


def _season_doy(doy: float, lat: float) -> float:
    """Southern-hemisphere seasons are shifted by half a year."""
    return (doy + 182.5) % 365.0 if lat < 0 else doy


def surface_reflectance(terrain: Terrain, doy: float, year: int,
                        bands: list[int] | None = None) -> tuple[np.ndarray, dict]:
    """Bottom-of-atmosphere reflectance (H, W, len(bands)) plus auxiliary masks for SCL.

    Each pixel is a linear mix of endmember spectra; only the requested bands are mixed.
    """
    s = terrain.s
    lat_c = s.lat_mean
    season = _season_doy(doy, lat_c)
    amp = float(np.clip((abs(lat_c) - 8) / 20, 0.25, 1.0))
    ptype = terrain.phenology_type(year)
    fv_tab = np.empty(len(_PHENOLOGY), dtype=np.float32)
    dry_tab = np.empty(len(_PHENOLOGY), dtype=np.float32)
    for k, (knots, fv, dry) in enumerate(_PHENOLOGY):
        mean = float(np.mean(fv))
        fv_tab[k] = mean + amp * (np.interp(season, knots, fv) - mean)
        dry_tab[k] = np.interp(season, knots, dry)
    tex = terrain.texture.astype(np.float32)
    fv = fv_tab[ptype] * (0.9 + 0.2 * tex)
    dry = dry_tab[ptype]
    cls = terrain.land_class

    snowline = 2600 - 1500 * max(0.0, math.cos(2 * math.pi * (season - 20) / 365.0)) * amp
    if abs(lat_c) < 15:
        snowline = 4500
    perm_snow = cls == SNOW
    snow = np.clip((terrain.elevation - snowline) / 150.0, 0, 1).astype(np.float32)
    snow[perm_snow] = 1
    water = terrain.water_weight(doy, lat_c).astype(np.float32)
    snow *= 1 - water
    land = 1 - snow - water

    urban = cls == URBAN
    rock = cls == ROCK
    veg_scale = np.where(urban, np.float32(0.3), np.float32(1.0)) * land
    veg_scale[rock | perm_snow] = 0
    w_green = fv * veg_scale
    w_dry = (1 - fv) * dry * veg_scale
    w_soil = (1 - fv) * (1 - dry) * veg_scale
    w_urban = np.where(urban, np.float32(0.7), np.float32(0)) * land
    w_rock = np.where(rock, land, np.float32(0))
    weights = np.stack([w_green, w_dry, w_soil, water, w_urban, snow, w_rock], axis=-1)

    band_idx = list(range(len(BANDS))) if bands is None else list(bands)
    em = ENDMEMBERS[:, band_idx]
    refl = (weights.reshape(-1, 7) @ em).reshape(s.shape + (len(band_idx),))
    refl *= (0.94 + 0.12 * tex)[..., None]
    aux = {"water": water, "snow": snow, "ndvi_fv": fv}
    return refl, aux
