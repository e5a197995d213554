"""Response encoders matching what sentinelhub-py's `decode_data` expects.

TIFFs are written uncompressed with fixed tags so identical arrays give identical
bytes; tar members get fixed metadata for the same reason.
"""
from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import tifffile
from PIL import Image

from .errors import bad_request

SAMPLE_TYPES = {
    "AUTO": np.uint8, "UINT8": np.uint8, "UINT16": np.uint16, "INT8": np.int8, "INT16": np.int16,
    "FLOAT32": np.float32,
}
FORMAT_EXTENSIONS = {"image/tiff": "tif", "image/png": "png", "image/jpeg": "jpg", "application/json": "json"}


def convert_sample_type(values: np.ndarray, sample_type: str) -> np.ndarray:
    """Evalscript output -> raster dtype; AUTO maps [0, 1] to [0, 255] like the service does."""
    sample_type = sample_type.upper()
    if sample_type == "FLOAT32":
        return values.astype(np.float32)
    dtype = SAMPLE_TYPES[sample_type]
    if sample_type == "AUTO":
        values = values * 255.0
    info = np.iinfo(dtype)
    values = np.nan_to_num(values, nan=0.0, posinf=info.max, neginf=info.min)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


def _geokeys(epsg: int) -> list[int]:
    if epsg == 4326:
        keys = [(1024, 0, 1, 2), (1025, 0, 1, 1), (2048, 0, 1, 4326), (2054, 0, 1, 9102)]
    else:
        keys = [(1024, 0, 1, 1), (1025, 0, 1, 1), (3072, 0, 1, epsg), (3076, 0, 1, 9001)]
    out = [1, 1, 0, len(keys)]
    for key in keys:
        out.extend(key)
    return out


def encode_tiff(data: np.ndarray, epsg: int, bbox: tuple[float, float, float, float]) -> bytes:
    """data: (H, W, B). Single-band rasters are written 2-D as the service does."""
    height, width, bands = data.shape
    minx, miny, maxx, maxy = bbox
    extratags = [
        (33550, "d", 3, ((maxx - minx) / width, (maxy - miny) / height, 0.0), True),
        (33922, "d", 6, (0.0, 0.0, 0.0, minx, maxy, 0.0), True),
        (34735, "H", len(_geokeys(epsg)), tuple(_geokeys(epsg)), True),
    ]
    buffer = io.BytesIO()
    array = data[:, :, 0] if bands == 1 else data
    kwargs = {} if bands == 1 else {"planarconfig": "contig", "photometric": "minisblack"}
    tifffile.imwrite(buffer, np.ascontiguousarray(array), extratags=extratags, metadata=None,
                     software=False, **kwargs)
    return buffer.getvalue()


def encode_png(data: np.ndarray) -> bytes:
    height, width, bands = data.shape
    if data.dtype == np.uint16:
        if bands != 1:
            raise bad_request("PNG with sampleType UINT16 supports only 1 band in the sandbox.")
        image = Image.fromarray(data[:, :, 0].astype(np.uint16), mode="I;16")
    elif data.dtype == np.uint8:
        modes = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
        if bands not in modes:
            raise bad_request(f"PNG output supports 1-4 bands, got {bands}.")
        image = Image.fromarray(data[:, :, 0] if bands == 1 else data, mode=modes[bands])
    else:
        raise bad_request(f"Output format image/png does not support sampleType {data.dtype.name.upper()}; "
                          "use UINT8, UINT16 or AUTO.")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_jpeg(data: np.ndarray, quality: int = 90) -> bytes:
    height, width, bands = data.shape
    if data.dtype != np.uint8:
        raise bad_request("Output format image/jpeg supports only sampleType UINT8 or AUTO.")
    if bands not in (1, 3):
        raise bad_request(f"JPEG output supports 1 or 3 bands, got {bands}.")
    image = Image.fromarray(data[:, :, 0] if bands == 1 else data, mode="L" if bands == 1 else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def encode_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=False).encode()


def encode_tar(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()
