"""The synthetic Earth must behave like the real one for standard EO recipes."""
from __future__ import annotations

import numpy as np
from sentinelhub import CRS, BBox, MimeType, MosaickingOrder, SentinelHubRequest

RESERVOIR = BBox((14.56, 46.08, 14.64, 46.12), CRS.WGS84)
FARMLAND = BBox((15.17, 45.78, 15.23, 45.82), CRS.WGS84)

NDWI_CLOUDFREE = """//VERSION=3
function setup() {
  return {input: ["B03", "B08", "CLM", "dataMask"], output: {bands: 2, sampleType: "FLOAT32"}};
}
function evaluatePixel(s) {
  return [index(s.B03, s.B08), s.dataMask * (1 - s.CLM)];
}
"""
NDVI_CLOUDFREE = NDWI_CLOUDFREE.replace('"B03", "B08"', '"B04", "B08"').replace("index(s.B03, s.B08)",
                                                                               "index(s.B08, s.B04)")


def otsu(values: np.ndarray, bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins)
    centers = (edges[:-1] + edges[1:]) / 2
    weight1 = np.cumsum(hist)
    weight2 = np.cumsum(hist[::-1])[::-1]
    mean1 = np.cumsum(hist * centers) / np.maximum(weight1, 1)
    mean2 = (np.cumsum((hist * centers)[::-1]) / np.maximum(weight2[::-1], 1))[::-1]
    between = weight1[:-1] * weight2[1:] * (mean1[:-1] - mean2[1:]) ** 2
    return float(centers[np.argmax(between)])


def _index(config, collection, evalscript, bbox, interval, size=(160, 80)):
    request = SentinelHubRequest(
        evalscript=evalscript,
        input_data=[SentinelHubRequest.input_data(collection, time_interval=interval,
                                                  mosaicking_order=MosaickingOrder.LEAST_CC)],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
        bbox=bbox, size=size, config=config)
    data = request.get_data()[0]
    return data[..., 0], data[..., 1] > 0


def _water_fraction(config, collection, interval):
    ndwi, valid = _index(config, collection, NDWI_CLOUDFREE, RESERVOIR, interval)
    assert valid.mean() > 0.5, "least-cloudy scene of a month should be mostly clear"
    threshold = otsu(ndwi[valid])
    water = (ndwi > threshold) & valid
    return water, threshold, ndwi, valid


def test_ndwi_otsu_finds_the_reservoir(sh_config, l2a):
    water, threshold, ndwi, valid = _water_fraction(sh_config, l2a, ("2023-08-01", "2023-08-31"))
    assert -0.4 < threshold < 0.5
    assert 0.05 < water.sum() / valid.sum() < 0.6
    assert ndwi[water].mean() > 0.3 and ndwi[valid & ~water].mean() < 0
    rows, cols = np.nonzero(water)
    # the reservoir sits in the middle of the demo bbox
    assert abs(rows.mean() - 40) < 12 and abs(cols.mean() - 80) < 20


def test_reservoir_extent_changes_with_season(sh_config, l2a):
    spring, *_ = _water_fraction(sh_config, l2a, ("2023-04-01", "2023-04-30"))
    autumn, *_ = _water_fraction(sh_config, l2a, ("2023-10-01", "2023-10-31"))
    assert spring.mean() > autumn.mean() * 1.05


def test_cropland_ndvi_summer_above_winter(sh_config, l2a):
    summer, valid_s = _index(sh_config, l2a, NDVI_CLOUDFREE, FARMLAND, ("2023-06-01", "2023-06-30"))
    winter, valid_w = _index(sh_config, l2a, NDVI_CLOUDFREE, FARMLAND, ("2023-01-01", "2023-01-31"))
    assert summer[valid_s].mean() > winter[valid_w].mean() + 0.1
    assert summer[valid_s].mean() > 0.5
