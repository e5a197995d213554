"""Sentinel-2 acquisition schedule, synthetic clouds and per-scene band rendering.

The world is split into 1x1 degree "tiles" (stand-ins for MGRS granules). Tiles are
grouped in 3-degree wide orbit columns; each column is imaged by S2A every 10 days
and by S2B five days later, which gives the familiar 5-day revisit.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass

import numpy as np

from . import landscape as ls
from .errors import bad_request

UTC = dt.timezone.utc
S2A_START = dt.date(2015, 7, 4)
S2B_START = dt.date(2017, 7, 6)
S2C_START = dt.date(2025, 1, 21)  # S2C takes over S2A's slot
S2A_START_DT = dt.datetime(2015, 7, 4, tzinfo=UTC)
COLUMN_WIDTH = 3
_LAT_BANDS = "CDEFGHJKLMNPQRSTUVWX"

CLOUD_TOA = np.array([0.60, 0.58, 0.57, 0.56, 0.56, 0.56, 0.56, 0.56, 0.55, 0.32, 0.05, 0.38, 0.28], np.float32)
PATH_RADIANCE = np.array([0.10, 0.075, 0.05, 0.03, 0.025, 0.02, 0.018, 0.015, 0.014, 0.01, 0.0, 0.005, 0.002],
                         np.float32)


@dataclass(frozen=True)
class Scene:
    collection: str
    lon0: int
    lat0: int
    when: dt.datetime
    platform: str

    @property
    def tile_name(self) -> str:
        zone = int((self.lon0 + 180) // 6) + 1
        lon_off = (self.lon0 + 180) - (zone - 1) * 6
        band_idx = min(max(int((self.lat0 + 80) // 8), 0), len(_LAT_BANDS) - 1)
        lat_off = self.lat0 - (-80 + band_idx * 8)
        return f"{zone:02d}{_LAT_BANDS[band_idx]}{chr(65 + lon_off)}{chr(65 + lat_off)}"

    @property
    def relative_orbit(self) -> int:
        col = (self.lon0 + 180) // COLUMN_WIDTH
        return 1 + (col * 7) % 143

    @property
    def id(self) -> str:
        level = "MSIL1C" if self.collection == "sentinel-2-l1c" else "MSIL2A"
        stamp = self.when.strftime("%Y%m%dT%H%M%S")
        proc = (self.when + dt.timedelta(hours=4, minutes=11)).strftime("%Y%m%dT%H%M%S")
        return f"{self.platform}_{level}_{stamp}_N0510_R{self.relative_orbit:03d}_T{self.tile_name}_{proc}"

    @property
    def cloud_cover(self) -> float:
        return tile_cloud_cover(self.lon0, self.lat0, self.when.date())

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (float(self.lon0), float(self.lat0), float(self.lon0 + 1), float(self.lat0 + 1))


def parse_scene_id(collection: str, scene_id: str) -> Scene | None:
    """Inverse of Scene.id so Catalog get_feature can regenerate an item."""
    try:
        platform, _, stamp, _, _, tile, _ = scene_id.split("_")
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        zone = int(tile[1:3])
        band_idx = _LAT_BANDS.index(tile[3])
        lon0 = (zone - 1) * 6 - 180 + (ord(tile[4]) - 65)
        lat0 = -80 + band_idx * 8 + (ord(tile[5]) - 65)
    except (ValueError, IndexError):
        return None
    for scene in scenes_for_cell(collection, lon0, lat0, when - dt.timedelta(minutes=1), when + dt.timedelta(minutes=1)):
        if scene.id == scene_id:
            return scene
    return None


def _platform_on(day: dt.date, column: int) -> str | None:
    phase = (7 * column) % 10
    offset = (day.toordinal() - phase) % 10
    if offset == 0 and day >= S2A_START:
        return "S2C" if day >= S2C_START else "S2A"
    if offset == 5 and day >= S2B_START:
        return "S2B"
    return None


def _acquisition_time(day: dt.date, column: int) -> dt.datetime:
    lon_c = -180 + COLUMN_WIDTH * column + COLUMN_WIDTH / 2
    seconds = int(((10.5 - lon_c / 15.0) % 24) * 3600) + ls.seed_of("t", column) % 300
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(seconds=seconds)


def scenes_for_cell(collection: str, lon0: int, lat0: int, start: dt.datetime, end: dt.datetime) -> list[Scene]:
    if lat0 < -56 or lat0 > 83:  # outside Sentinel-2 land coverage
        return []
    column = (lon0 + 180) // COLUMN_WIDTH
    scenes = []
    day = (start - dt.timedelta(days=1)).date()
    last = (end + dt.timedelta(days=1)).date()
    while day <= last:
        platform = _platform_on(day, column)
        if platform:
            when = _acquisition_time(day, column)
            if start <= when <= end:
                scenes.append(Scene(collection, lon0, lat0, when, platform))
        day += dt.timedelta(days=1)
    return scenes


# The archive is generated on the fly, one-degree cell by cell and day by day: bound the work one
# request may ask for (a world-wide bbox over ten years would take minutes and gigabytes).
MAX_CELL_DAYS = 150_000
ARCHIVE_END_DT = dt.datetime(2100, 1, 1, tzinfo=UTC)


def cells_for_bbox(lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> list[tuple[int, int]]:
    lon_cells = range(int(math.floor(max(lon_min, -180.0))), int(math.floor(min(lon_max, 179.999))) + 1)
    lat_cells = range(int(math.floor(max(lat_min, -90.0))), int(math.floor(min(lat_max, 89.999))) + 1)
    return [(x, y) for y in lat_cells for x in lon_cells]


def archive_window(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The part of [start, end] the synthetic archive covers."""
    return max(start, S2A_START_DT), min(end, ARCHIVE_END_DT)


def check_search_size(bbox_lonlat, start: dt.datetime, end: dt.datetime) -> None:
    lon_min, lat_min, lon_max, lat_max = bbox_lonlat
    cells = (math.floor(min(lon_max, 179.999)) - math.floor(max(lon_min, -180.0)) + 1) * \
            (math.floor(min(lat_max, 89.999)) - math.floor(max(lat_min, -90.0)) + 1)
    start, end = archive_window(start, end)
    days = max((end - start).days + 1, 1)
    if cells * days > MAX_CELL_DAYS:
        raise bad_request(f"Search too large for the sandbox: {cells} one-degree cells over {days} days "
                          f"(at most {MAX_CELL_DAYS} cell-days). Narrow the area or the time range.")


def find_scenes(collection: str, bbox_lonlat, start: dt.datetime, end: dt.datetime,
                max_cloud: float | None = None) -> list[Scene]:
    check_search_size(bbox_lonlat, start, end)
    start, end = archive_window(start, end)
    found = []
    for lon0, lat0 in cells_for_bbox(*bbox_lonlat):
        for scene in scenes_for_cell(collection, lon0, lat0, start, end):
            if max_cloud is None or scene.cloud_cover <= max_cloud:
                found.append(scene)
    found.sort(key=lambda s: (s.when, s.lat0, s.lon0))
    return found


# ---------------------------------------------------------------- clouds

def _cloud_seed(day: dt.date) -> int:
    return ls.seed_of("cloud", day.isoformat())


def cloud_opacity(sampler: ls.Sampler, day: dt.date, du: float = 0.0, dv: float = 0.0) -> np.ndarray:
    seed = _cloud_seed(day)
    lat_c = sampler.lat_mean
    season = ls._season_doy(day.timetuple().tm_yday, lat_c)
    winter = math.cos(2 * math.pi * (season - 15) / 365.0)
    regional = sampler.noise(150000, seed + 3, du, dv)
    cover = np.clip(3.0 * (regional - 0.5) + 0.25 + 0.2 * winter, 0, 1)
    density = sampler.fbm(((12000, 0.6), (3000, 0.3), (700, 0.1)), seed, du, dv)
    threshold = 0.80 - 0.55 * cover
    return np.clip((density - threshold) / 0.07, 0, 1)


def shadow_offset(lat: float) -> tuple[float, float]:
    """Shadows are cast away from the sun: north-west of clouds in the north, south-west in the south."""
    return (900.0, -1600.0) if lat >= 0 else (900.0, 1600.0)


@functools.lru_cache(maxsize=20000)
def tile_cloud_cover(lon0: int, lat0: int, day: dt.date) -> float:
    lons, lats = np.meshgrid(lon0 + (np.arange(24) + 0.5) / 24, lat0 + (np.arange(24) + 0.5) / 24)
    sampler = ls.Sampler(lons, lats, pixel_size=4600.0)
    alpha = cloud_opacity(sampler, day)
    return round(float(np.mean(alpha > 0.4)) * 100, 2)


# ---------------------------------------------------------------- rendering

META_BANDS = ("dataMask", "CLM", "CLP", "SCL", "SNW", "CLD", "AOT", "sunZenithAngles", "sunAzimuthAngles",
              "viewZenithMean", "viewAzimuthMean")


def render(terrain: ls.Terrain, scene_when: dt.datetime, collection: str, wanted: set[str]) -> dict[str, np.ndarray]:
    """All requested bands for one acquisition over the whole grid.

    Spectral bands are returned as reflectance quantised to the 1e-4 DN step, so DN
    and REFLECTANCE views of the same pixel agree exactly as they do in the archive.
    """
    s = terrain.s
    day = scene_when.date()
    doy = day.timetuple().tm_yday
    out: dict[str, np.ndarray] = {}
    need_spectral = any(b in ls.BAND_INDEX for b in wanted) or "SCL" in wanted
    need_clouds = need_spectral or wanted & {"CLM", "CLP", "SCL", "CLD"}
    if need_clouds:
        alpha = cloud_opacity(s, day)
        sx, sy = shadow_offset(s.lat_mean)
        shadow = cloud_opacity(s, day, sx, sy) * (1 - alpha)
    if need_spectral:
        names = [b for b in ls.BANDS if b in wanted and not (collection == "sentinel-2-l2a" and b == "B10")]
        if "SCL" in wanted:
            names = sorted(set(names) | {"B04", "B08"}, key=ls.BAND_INDEX.get)
        idx = [ls.BAND_INDEX[b] for b in names]
        pos = {b: k for k, b in enumerate(names)}
        surface, aux = ls.surface_reflectance(terrain, doy, day.year, idx)
        shade = (1 - 0.6 * shadow).astype(np.float32)[..., None]
        seed = ls.seed_of("px", day.isoformat(), collection)
        grain = terrain.grain(seed)
        a = alpha.astype(np.float32)[..., None]
        if collection == "sentinel-2-l1c":
            clear = surface * shade
            clear *= np.float32(0.93)
            clear += PATH_RADIANCE[idx]
            if "B09" in pos:
                clear[..., pos["B09"]] = surface[..., pos["B09"]] * 0.35 + 0.012
            if "B10" in pos:
                clear[..., pos["B10"]] = 0.003 + 0.002 * terrain.texture
            cloud = CLOUD_TOA[idx]
        else:
            clear = surface * shade
            cloud = (CLOUD_TOA - PATH_RADIANCE * 0.5)[idx]
        refl = clear * (1 - a) + cloud * a
        refl += grain[..., None]
        if collection == "sentinel-2-l1c" and "B10" in pos:
            refl[..., pos["B10"]] = 0.003 + 0.002 * terrain.texture + 0.045 * alpha ** 2
        dn = np.clip(np.rint(refl * 10000), 1, 65535)
        for name in names:
            if name in wanted:
                out[name] = dn[..., pos[name]] * np.float32(1e-4)
        if "SCL" in wanted:
            b04 = refl[..., pos["B04"]]
            b08 = refl[..., pos["B08"]]
            ndvi = (b08 - b04) / np.maximum(b08 + b04, 1e-6)
            out["SCL"] = np.select(
                [alpha > 0.7, alpha > 0.4, alpha > 0.15, shadow > 0.35, aux["snow"] > 0.5, aux["water"] > 0.5,
                 ndvi > 0.35],
                [9, 8, 10, 3, 11, 6, 4], default=5).astype(np.float32)
    if "CLP" in wanted or "CLD" in wanted:
        clp = np.clip(np.round(255 * (0.04 + 0.92 * alpha + 0.04 * (terrain.texture - 0.5))), 0, 255)
        out["CLP"] = clp
        out["CLD"] = np.round(clp / 2.55)
    if "CLM" in wanted:
        out["CLM"] = (alpha > 0.4).astype(np.float64)
    if "SNW" in wanted:
        water_snow = ls.surface_reflectance(terrain, doy, day.year)[1]["snow"]
        out["SNW"] = np.round(100 * water_snow)
    if "AOT" in wanted:
        out["AOT"] = np.full(s.shape, 0.12 + 0.05 * math.sin(doy / 58.0))
    if wanted & {"sunZenithAngles", "sunAzimuthAngles"}:
        zen, azi = _sun_angles(s.lat, s.lon, scene_when)
        out["sunZenithAngles"] = zen
        out["sunAzimuthAngles"] = azi
    if wanted & {"viewZenithMean", "viewAzimuthMean"}:
        col = np.floor((s.lon + 180) / COLUMN_WIDTH)
        across = (s.lon + 180) / COLUMN_WIDTH - col - 0.5
        out["viewZenithMean"] = 1.5 + 16 * np.abs(across)
        out["viewAzimuthMean"] = np.where(across < 0, 285.0, 105.0)
    if "dataMask" in wanted:
        out["dataMask"] = np.ones(s.shape)
    return out


def _sun_angles(lat: np.ndarray, lon: np.ndarray, when: dt.datetime):
    doy = when.timetuple().tm_yday
    hours = when.hour + when.minute / 60 + when.second / 3600
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365.0)
    hour_angle = np.radians((hours - 12) * 15 + lon)
    phi = np.radians(lat)
    cos_z = np.sin(phi) * math.sin(decl) + np.cos(phi) * math.cos(decl) * np.cos(hour_angle)
    zen = np.arccos(np.clip(cos_z, -1, 1))
    sin_az = -math.cos(decl) * np.sin(hour_angle) / np.maximum(np.sin(zen), 1e-6)
    cos_az = (math.sin(decl) - np.sin(phi) * cos_z) / np.maximum(np.cos(phi) * np.sin(zen), 1e-6)
    azi = np.degrees(np.arctan2(sin_az, cos_az)) % 360
    return np.degrees(zen), azi


def render_dem(terrain: ls.Terrain, wanted: set[str]) -> dict[str, np.ndarray]:
    out = {}
    if "DEM" in wanted:
        out["DEM"] = np.round(terrain.elevation + 6 * (terrain.texture - 0.5), 1)
    if "dataMask" in wanted:
        out["dataMask"] = np.ones(terrain.s.shape)
    return out
