"""Executes a parsed Process API request: scene selection, mosaicking, evalscript, encoding."""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np

from . import encode, geo, scenes
from . import landscape as ls
from .errors import EvalscriptError, bad_request
from .evalscript import Evalscript
from .process import ProcessRequest

S2_META = {
    "sentinel-2-l1c": {"dataMask", "CLM", "CLP", "sunZenithAngles", "sunAzimuthAngles", "viewZenithMean",
                       "viewAzimuthMean"},
    "sentinel-2-l2a": {"dataMask", "CLM", "CLP", "SCL", "SNW", "CLD", "AOT", "sunZenithAngles",
                       "sunAzimuthAngles", "viewZenithMean", "viewAzimuthMean"},
}
S2_SPECTRAL = {
    "sentinel-2-l1c": set(ls.BANDS),
    "sentinel-2-l2a": set(ls.BANDS) - {"B10"},
}
MAX_SAMPLE_VALUES = 300_000_000  # ~1.2 GB of float32 input samples per request
CACHEABLE_PIXELS = 1_100_000
ANGLE_BANDS = {"sunZenithAngles", "sunAzimuthAngles", "viewZenithMean", "viewAzimuthMean"}


@dataclass
class Rendered:
    body: bytes
    content_type: str
    processing_units: float


def _band_units(collection: str, band: str, unit: str | None) -> str:
    if collection == "dem":
        allowed = {"DEM": ("METERS", "DN"), "dataMask": ("DN",)}.get(band)
    elif band in S2_SPECTRAL[collection]:
        allowed = ("REFLECTANCE", "DN")
    elif band in ANGLE_BANDS:
        allowed = ("DEGREES",)
    elif band == "AOT":
        allowed = ("OPTICAL_DEPTH", "DN")
    elif band in ("SNW", "CLD"):
        allowed = ("PERCENT",)
    elif band in S2_META.get(collection, ()):
        allowed = ("DN",)
    else:
        allowed = None
    if allowed is None:
        raise bad_request(f"Band '{band}' is not available in collection {collection}.")
    if unit in (None, "DEFAULT"):
        return allowed[0]
    if unit not in allowed:
        raise bad_request(f"Units '{unit}' are not supported for band {band} of {collection}; "
                          f"supported: {', '.join(allowed)}.")
    return unit


def _parse_setup(setup: dict, collection: str):
    inputs = setup.get("input")
    if inputs is None:
        raise EvalscriptError("evalscript.js: setup() must define 'input'.")
    if isinstance(inputs, dict):
        inputs = [inputs]
    bands, units = [], []
    if isinstance(inputs, list) and inputs and all(isinstance(x, str) for x in inputs):
        bands = list(inputs)
        units = [None] * len(bands)
    elif isinstance(inputs, list):
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("bands"), list):
                raise EvalscriptError("evalscript.js: setup().input entries need a 'bands' list.")
            item_units = item.get("units")
            for k, band in enumerate(item["bands"]):
                bands.append(str(band))
                if isinstance(item_units, list):
                    units.append(item_units[k] if k < len(item_units) else None)
                else:
                    units.append(item_units)
    else:
        raise EvalscriptError("evalscript.js: setup().input must be a list.")
    resolved = [(band, _band_units(collection, band, unit)) for band, unit in zip(bands, units)]

    outs = setup.get("output", {"id": "default", "bands": 1})
    if isinstance(outs, dict):
        outs = [outs]
    outputs = []
    for item in outs:
        if not isinstance(item, dict):
            raise EvalscriptError("evalscript.js: setup().output entries must be objects.")
        nb = item.get("bands", 1)
        sample_type = str(item.get("sampleType", "AUTO")).upper()
        if sample_type not in encode.SAMPLE_TYPES:
            raise bad_request(f"Unknown sampleType '{sample_type}'.")
        if not isinstance(nb, int) or nb < 1:
            raise bad_request(f"Output '{item.get('id', 'default')}' must have a positive integer 'bands'.")
        outputs.append((str(item.get("id", "default")), nb, sample_type))
    mosaicking = str(setup.get("mosaicking", "SIMPLE")).upper()
    if mosaicking not in ("SIMPLE", "ORBIT", "TILE"):
        raise bad_request(f"Unknown mosaicking '{mosaicking}'.")
    return resolved, outputs, mosaicking


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tile_json(scene: scenes.Scene, index: int) -> dict:
    return {
        "date": _iso(scene.when),
        "shId": 1000000 + index,
        "cloudCoverage": scene.cloud_cover,
        "dataPath": f"s3://sandbox-s2/tiles/{scene.tile_name}/{scene.when:%Y/%m/%d}/0",
        "productId": scene.id,
        "tileOriginalId": scene.id,
        "__cell": [scene.lon0, scene.lat0],
    }


def _order(items: list, order: str, key_cc) -> list:
    if order == "leastRecent":
        return sorted(items, key=lambda s: s.when)
    if order == "leastCC":
        return sorted(items, key=lambda s: (key_cc(s), -s.when.timestamp()))
    return sorted(items, key=lambda s: s.when, reverse=True)


def execute(req: ProcessRequest, accept: str | None, timeout_sec: float = 60.0) -> Rendered:
    script = Evalscript(req.evalscript, timeout_sec=timeout_sec)
    try:
        return _execute(req, accept, script)
    finally:
        script.close()


def _execute(req: ProcessRequest, accept: str | None, script: Evalscript) -> Rendered:
    data = req.data
    bands, outputs, mosaicking = _parse_setup(script.setup(), data.collection)
    out_ids = {oid for oid, _, _ in outputs}
    for resp in req.responses:
        if resp.identifier == "userdata":
            continue
        if resp.identifier not in out_ids:
            raise bad_request(f"Output '{resp.identifier}' requested in output.responses is not defined in "
                              f"evalscript setup() (defined: {', '.join(sorted(out_ids))}).")

    if req.width * req.height <= CACHEABLE_PIXELS:
        grid, terrain = _terrain_for(req.epsg, req.bbox, req.width, req.height)
    else:
        grid, terrain = _terrain_for.__wrapped__(req.epsg, req.bbox, req.width, req.height)
    geom_mask = grid.geometry_mask(req.geometry)
    wanted = {b for b, _ in bands} | {"dataMask"}
    n_pix = req.width * req.height
    cell_x = np.floor(grid.lon).astype(np.int64)
    cell_y = np.floor(grid.lat).astype(np.int64)

    # --- choose scenes, then render them one at a time straight into the sample stack
    per_scene = mosaicking != "SIMPLE"
    if data.collection == "dem":
        plans = [(None, np.ones(grid.lon.shape, dtype=bool))]
        scene_spec = {"tiles": []}
    else:
        bbox_ll = (float(grid.lon.min()), float(grid.lat.min()), float(grid.lon.max()), float(grid.lat.max()))
        found = scenes.find_scenes(data.collection, bbox_ll, data.time_from, data.time_to,
                                   max_cloud=data.max_cloud)
        plans, scene_spec = _mosaic(script, data, mosaicking, found, cell_x, cell_y)

    n_slots = len(plans) if per_scene else 1
    if len(bands) * max(n_slots, 1) * n_pix > MAX_SAMPLE_VALUES:
        raise bad_request(f"Request too large for the sandbox: {len(bands)} bands x {n_slots} scenes x {n_pix} px "
                          f"exceeds {MAX_SAMPLE_VALUES} input samples. Reduce the area, resolution or time range.")
    samples = np.zeros((len(bands), max(n_slots, 1), n_pix), dtype=np.float32)
    if per_scene and n_slots == 0:
        samples = samples[:, :0, :]
    for q, (when, mask) in enumerate(plans):
        if data.collection == "dem":
            layer = scenes.render_dem(terrain, wanted)
        else:
            layer = scenes.render(terrain, when, data.collection, wanted)
        slot = q if per_scene else 0
        flat_mask = mask.reshape(-1)
        full = bool(flat_mask.all())
        for k, (band, unit) in enumerate(bands):
            values = _to_units(layer[band], band, unit, data.collection).reshape(-1)
            if full:
                samples[k, slot] = values
            else:
                samples[k, slot, flat_mask] = values[flat_mask]
        del layer
    if geom_mask is not None:
        outside = ~geom_mask.reshape(-1)
        samples[:, :, outside] = 0

    input_metadata = {"serviceVersion": "1.0.0-gemhub-sandbox", "normalizationFactor": 0.0001}
    script.set_context(scene_spec, input_metadata, req.custom_data)
    script.set_scene_count(samples.shape[1])
    raw = script.run([b for b, _ in bands], samples, per_scene, [(oid, nb) for oid, nb, _ in outputs])
    user_data = script.update_output_metadata()

    files = []
    pu = max(n_pix / 512.0 / 512.0, 0.01) * max(len(bands) / 3.0, 1.0) * max(samples.shape[1], 1)
    for resp in req.responses:
        if resp.identifier == "userdata":
            files.append(("userdata.json", "application/json", encode.encode_json(user_data or {})))
            continue
        _, nb, sample_type = next(o for o in outputs if o[0] == resp.identifier)
        values = raw[resp.identifier]
        if geom_mask is not None:
            values[:, ~geom_mask.reshape(-1)] = 0
        array = encode.convert_sample_type(values, sample_type)
        array = np.moveaxis(array.reshape(nb, req.height, req.width), 0, -1)
        if resp.mime == "image/tiff":
            payload = encode.encode_tiff(array, req.epsg, req.bbox)
        elif resp.mime == "image/png":
            payload = encode.encode_png(array)
        elif resp.mime == "image/jpeg":
            payload = encode.encode_jpeg(array, resp.quality)
        else:
            raise bad_request(f"Format {resp.mime} is not available for output '{resp.identifier}'.")
        files.append((f"{resp.identifier}.{encode.FORMAT_EXTENSIONS[resp.mime]}", resp.mime, payload))

    wants_tar = accept is not None and "application/x-tar" in accept
    if len(files) == 1 and not wants_tar:
        return Rendered(files[0][2], files[0][1], round(pu, 4))
    return Rendered(encode.encode_tar([(name, payload) for name, _, payload in files]), "application/x-tar",
                    round(pu, 4))


@functools.lru_cache(maxsize=3)
def _terrain_for(epsg: int, bbox: tuple, width: int, height: int):
    """The static landscape depends only on the output grid, so time series requests over the same
    area (eo-learn issues one request per date) reuse it. It is a pure function: caching cannot change bytes."""
    grid = geo.PixelGrid(epsg, bbox, width, height)
    sampler = ls.Sampler(grid.lon, grid.lat, grid.pixel_size_m())
    return grid, ls.Terrain(sampler)


def _to_units(values: np.ndarray, band: str, unit: str, collection: str) -> np.ndarray:
    if unit == "DN" and (band in ls.BAND_INDEX or band == "AOT"):
        return np.rint(values * (10000.0 if band in ls.BAND_INDEX else 1000.0))
    return values


def _mosaic(script, data, mosaicking, found, cell_x, cell_y):
    """Returns (plans, scene_spec); each plan is (acquisition time, pixels it covers)."""

    def cell_mask(cells) -> np.ndarray:
        mask = np.zeros(cell_x.shape, dtype=bool)
        for lon0, lat0 in cells:
            mask |= (cell_x == lon0) & (cell_y == lat0)
        return mask

    if mosaicking == "SIMPLE":
        by_cell: dict[tuple[int, int], list] = {}
        for scene in found:
            by_cell.setdefault((scene.lon0, scene.lat0), []).append(scene)
        chosen = {cell: _order(items, data.order, lambda s: s.cloud_cover)[0] for cell, items in by_cell.items()}
        by_time: dict[dt.datetime, list] = {}
        for cell, scene in chosen.items():
            by_time.setdefault(scene.when, []).append(cell)
        plans = [(when, cell_mask(by_time[when])) for when in sorted(by_time)]
        tiles = [_tile_json(scene, i) for i, scene in enumerate(sorted(chosen.values(), key=lambda s: s.when,
                                                                       reverse=True))]
        return plans, {"tiles": _public(tiles)}

    if mosaicking == "TILE":
        ordered = _order(found, data.order, lambda s: s.cloud_cover)
        tiles = [_tile_json(scene, i) for i, scene in enumerate(ordered)]
        collections = {"scenes": {"tiles": _public(tiles)}, "from": _iso(data.time_from), "to": _iso(data.time_to)}
        kept_ids = _preprocess(script, collections, "tiles", "shId", [t["shId"] for t in tiles])
        by_id = {t["shId"]: (t, s) for t, s in zip(tiles, ordered)}
        kept = [by_id[i] for i in kept_ids]
        plans = [(s.when, cell_mask([(s.lon0, s.lat0)])) for _, s in kept]
        return plans, {"tiles": _public([t for t, _ in kept])}

    # ORBIT: one entry per acquisition day, covering all tiles acquired that day
    by_day: dict[dt.date, list] = {}
    for scene in found:
        by_day.setdefault(scene.when.date(), []).append(scene)
    orbits = []
    for i, (day, items) in enumerate(sorted(by_day.items())):
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        orbits.append({
            "dateFrom": _iso(start), "dateTo": _iso(start + dt.timedelta(days=1) - dt.timedelta(seconds=1)),
            "tiles": _public([_tile_json(s, i * 100 + k) for k, s in enumerate(items)]),
            "__items": items,
        })
    if data.order == "leastCC":
        orbits.sort(key=lambda o: min(s.cloud_cover for s in o["__items"]))
    elif data.order != "leastRecent":
        orbits.reverse()
    public = [{k: v for k, v in o.items() if k != "__items"} for o in orbits]
    collections = {"scenes": {"orbits": public}, "from": _iso(data.time_from), "to": _iso(data.time_to)}
    kept_dates = _preprocess(script, collections, "orbits", "dateFrom", [o["dateFrom"] for o in orbits])
    by_date = {o["dateFrom"]: o for o in orbits}
    kept = [by_date[d] for d in kept_dates]
    plans = [(o["__items"][0].when, cell_mask([(s.lon0, s.lat0) for s in o["__items"]])) for o in kept]
    return plans, {"orbits": [{k: v for k, v in o.items() if k != "__items"} for o in kept]}


def _public(tiles: list[dict]) -> list[dict]:
    return [{k: v for k, v in t.items() if not k.startswith("__")} for t in tiles]


def _preprocess(script: Evalscript, collections: dict, kind: str, key: str, default_keys: list) -> list:
    if not script.has_preprocess:
        return default_keys
    result = script.preprocess(collections)
    try:
        items = result["scenes"][kind]
        keys = [item[key] for item in items]
    except (TypeError, KeyError):
        raise EvalscriptError(f"evalscript.js: preProcessScenes() must return the collections object with "
                              f"scenes.{kind}.") from None
    known = set(default_keys)
    return [k for k in keys if k in known]
