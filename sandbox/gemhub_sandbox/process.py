"""Process API request parsing and validation.

Validation errors are raised as 400 COMMON_BAD_PAYLOAD before any expensive work,
mirroring how the real service rejects malformed payloads early.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from . import geo
from .errors import ApiError, bad_request

MAX_SIZE = 2500
COLLECTION_ALIASES = {
    "sentinel-2-l1c": "sentinel-2-l1c", "s2l1c": "sentinel-2-l1c",
    "sentinel-2-l2a": "sentinel-2-l2a", "s2l2a": "sentinel-2-l2a",
    "dem": "dem",
}
MOSAICKING_ORDERS = ("mostRecent", "leastRecent", "leastCC")
DEM_INSTANCES = ("MAPZEN", "COPERNICUS", "COPERNICUS_30", "COPERNICUS_90")
# Requests without a timeRange get a fixed window (never "now") so results stay reproducible.
DEFAULT_TIME_RANGE = (dt.datetime(2015, 6, 23, tzinfo=dt.timezone.utc), dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))


@dataclass
class DataInput:
    collection: str
    ident: str | None
    time_from: dt.datetime
    time_to: dt.datetime
    max_cloud: float
    order: str
    dem_instance: str | None = None


@dataclass
class ResponseSpec:
    identifier: str
    mime: str
    quality: int = 90


@dataclass
class ProcessRequest:
    epsg: int
    bbox: tuple[float, float, float, float]
    geometry: dict | None
    width: int
    height: int
    data: DataInput
    responses: list[ResponseSpec]
    evalscript: str
    custom_data: object = field(default_factory=dict)


def parse_time(value, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise bad_request(f"Invalid {name}: expected an ISO-8601 string.")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Invalid {name}: '{value}' is not an ISO-8601 date-time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def is_number(value) -> bool:
    """A finite JSON number (JSON from Python clients may carry NaN and Infinity; booleans are not numbers)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def numbers(value, count: int, name: str) -> tuple[float, ...]:
    if not (isinstance(value, list) and len(value) == count and all(is_number(v) for v in value)):
        raise bad_request(f"'{name}' must be a list of {count} finite numbers.")
    return tuple(float(v) for v in value)


def geometry_bounds(geometry, name: str) -> tuple[float, float, float, float]:
    """Bounds of a GeoJSON geometry's coordinates; every position must be [x, y] of finite numbers."""
    xs, ys = [], []

    def walk(node, depth: int):
        if depth > 6 or not isinstance(node, list):
            raise bad_request(f"'{name}' is not a valid GeoJSON geometry: bad coordinates.")
        if node and not isinstance(node[0], list):
            if len(node) < 2 or not all(is_number(v) for v in node):
                raise bad_request(f"'{name}' is not a valid GeoJSON geometry: a position must be [x, y] numbers.")
            xs.append(float(node[0]))
            ys.append(float(node[1]))
            return
        for child in node:
            walk(child, depth + 1)

    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if coordinates is None:
        raise bad_request(f"'{name}' must be a GeoJSON geometry with coordinates.")
    walk(coordinates, 0)
    if not xs:
        raise bad_request(f"'{name}' is not a valid GeoJSON geometry: no coordinates.")
    return min(xs), min(ys), max(xs), max(ys)


def parse(body) -> ProcessRequest:
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object.")
    inp = body.get("input")
    if not isinstance(inp, dict):
        raise bad_request("Missing 'input' object.")
    bounds = inp.get("bounds")
    if not isinstance(bounds, dict):
        raise bad_request("Missing 'input.bounds'.")
    properties = bounds.get("properties") or {}
    if not isinstance(properties, dict):
        raise bad_request("'input.bounds.properties' must be an object.")
    epsg = geo.parse_crs(properties.get("crs"))
    geometry = bounds.get("geometry")
    if geometry is not None and not isinstance(geometry, dict):
        raise bad_request("'input.bounds.geometry' must be a GeoJSON object.")
    bbox = bounds.get("bbox")
    if bbox is not None:
        bbox = numbers(bbox, 4, "input.bounds.bbox")
        if geometry is not None:
            geometry_bounds(geometry, "input.bounds.geometry")
    elif geometry is not None:
        bbox = geometry_bounds(geometry, "input.bounds.geometry")
    else:
        raise bad_request("Either 'input.bounds.bbox' or 'input.bounds.geometry' must be given.")
    if not (bbox[2] > bbox[0] and bbox[3] > bbox[1]):
        raise bad_request(f"Invalid bbox {list(bbox)}: min must be smaller than max.")
    geo.check_extent(epsg, bbox, "input.bounds.bbox")

    data_list = inp.get("data")
    if not isinstance(data_list, list) or not data_list:
        raise bad_request("'input.data' must be a non-empty list.")
    if len(data_list) > 1:
        raise bad_request("Data fusion (several input.data entries) is not supported by the sandbox.")
    data = _parse_data(data_list[0])

    output = body.get("output") or {}
    if not isinstance(output, dict):
        raise bad_request("'output' must be an object.")
    width, height = _output_size(output, bbox)
    responses = _parse_responses(output.get("responses"))
    evalscript = body.get("evalscript")
    if not isinstance(evalscript, str):
        raise bad_request("Missing 'evalscript'.")
    return ProcessRequest(epsg, bbox, geometry, width, height, data, responses, evalscript,
                          custom_data=_custom_data(body))


def _custom_data(body: dict):
    custom = body.get("customData")
    return custom if custom is not None else {}


def _parse_data(entry) -> DataInput:
    if not isinstance(entry, dict):
        raise bad_request("'input.data' entries must be objects.")
    ctype = str(entry.get("type", "")).strip()
    collection = COLLECTION_ALIASES.get(ctype.lower())
    if collection is None:
        raise ApiError(400, f"Unknown or unsupported data collection type '{ctype}'. The sandbox serves "
                            "sentinel-2-l1c, sentinel-2-l2a and dem.", code="COMMON_BAD_PAYLOAD")
    flt = entry.get("dataFilter") or {}
    if not isinstance(flt, dict):
        raise bad_request("'dataFilter' must be an object.")
    time_range = flt.get("timeRange")
    if time_range is None:
        start, end = DEFAULT_TIME_RANGE
    else:
        if not isinstance(time_range, dict) or "from" not in time_range or "to" not in time_range:
            raise bad_request("'dataFilter.timeRange' needs 'from' and 'to'.")
        start = parse_time(time_range["from"], "timeRange.from")
        end = parse_time(time_range["to"], "timeRange.to")
        if end < start:
            raise bad_request("'dataFilter.timeRange': 'from' must not be after 'to'.")
    max_cloud = flt.get("maxCloudCoverage", 100)
    if not is_number(max_cloud) or not 0 <= max_cloud <= 100:
        raise bad_request("'dataFilter.maxCloudCoverage' must be a number between 0 and 100.")
    order = flt.get("mosaickingOrder", "mostRecent")
    if not isinstance(order, str) or order not in MOSAICKING_ORDERS:
        raise bad_request(f"Invalid mosaickingOrder '{order}', expected one of {', '.join(MOSAICKING_ORDERS)}.")
    dem_instance = flt.get("demInstance")
    if collection == "dem" and dem_instance is not None and dem_instance not in DEM_INSTANCES:
        raise bad_request(f"Unknown demInstance '{dem_instance}'.")
    ident = entry.get("id")
    if ident is not None and not isinstance(ident, str):
        raise bad_request("'input.data[].id' must be a string.")
    return DataInput(collection, ident, start, end, float(max_cloud), order, dem_instance)


def _output_size(output: dict, bbox) -> tuple[int, int]:
    width, height = output.get("width"), output.get("height")
    resx, resy = output.get("resx"), output.get("resy")
    span_x, span_y = bbox[2] - bbox[0], bbox[3] - bbox[1]
    if (width is not None or height is not None) and (resx is not None or resy is not None):
        raise bad_request("Specify either output width/height or resx/resy, not both.")
    if resx is not None or resy is not None:
        if not all(is_number(v) and v > 0 for v in (resx, resy)):
            raise bad_request("'output.resx' and 'output.resy' must both be positive numbers.")
        columns, rows = span_x / resx, span_y / resy
        if not (columns <= MAX_SIZE and rows <= MAX_SIZE):
            raise bad_request(f"Output resolution resx={resx}, resy={resy} gives more than {MAX_SIZE} px per side.")
        width, height = int(round(columns)), int(round(rows))
    elif width is None and height is None:
        width = height = 256
    elif width is None and is_number(height):
        width = _derived_side(height * span_x / span_y, "width")
    elif height is None and is_number(width):
        height = _derived_side(width * span_y / span_x, "height")
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad_request(f"Output {name} must be an integer.")
        if value < 1 or value > MAX_SIZE:
            raise bad_request(f"Output {name} {value} is out of range: it must be between 1 and {MAX_SIZE} px.")
    return width, height


def _derived_side(value: float, name: str) -> int:
    if not value <= MAX_SIZE:
        raise bad_request(f"Output {name} would be {value:.0f} px, more than {MAX_SIZE}: give both width and height.")
    return int(round(value))


def _parse_responses(responses) -> list[ResponseSpec]:
    if responses is None:
        return [ResponseSpec("default", "image/png")]
    if not isinstance(responses, list) or not responses:
        raise bad_request("'output.responses' must be a non-empty list.")
    parsed, seen = [], set()
    for item in responses:
        if not isinstance(item, dict):
            raise bad_request("'output.responses' entries must be objects.")
        ident = item.get("identifier", "default")
        if not isinstance(ident, str):
            raise bad_request("'output.responses[].identifier' must be a string.")
        fmt = item.get("format") or {"type": "image/png"}
        mime = fmt.get("type") if isinstance(fmt, dict) else None
        if mime not in ("image/tiff", "image/png", "image/jpeg", "application/json"):
            raise bad_request(f"Unsupported output format '{mime}' for response '{ident}'.")
        if mime == "application/json" and ident != "userdata":
            raise bad_request("Format application/json is only available for the 'userdata' response.")
        if ident in seen:
            raise bad_request(f"Duplicate response identifier '{ident}'.")
        seen.add(ident)
        quality = fmt.get("quality", 90)
        if not (is_number(quality) and 0 <= quality <= 100):
            raise bad_request(f"'quality' of response '{ident}' must be a number from 0 to 100.")
        parsed.append(ResponseSpec(ident, mime, int(quality)))
    return parsed
