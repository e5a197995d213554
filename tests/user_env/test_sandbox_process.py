"""Process API through unchanged sentinelhub-py."""
from __future__ import annotations

import numpy as np
import pytest
from sentinelhub import CRS, BBox, Geometry, MimeType, MosaickingOrder, SentinelHubRequest
from sentinelhub.exceptions import DownloadFailedException

RESERVOIR_BBOX = BBox((14.56, 46.08, 14.64, 46.12), CRS.WGS84)
ALL_L1C = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]

TRUE_COLOR = """//VERSION=3
function setup() {
  return {input: ["B02", "B03", "B04"], output: {bands: 3}};
}
function evaluatePixel(sample) {
  return [2.5 * sample.B04, 2.5 * sample.B03, 2.5 * sample.B02];
}
"""


def _request(config, collection, evalscript, responses, bbox=RESERVOIR_BBOX, size=(128, 96), **kw):
    return SentinelHubRequest(
        evalscript=evalscript,
        input_data=[SentinelHubRequest.input_data(collection, time_interval=kw.pop("time", ("2023-06-01", "2023-06-30")),
                                                  **kw)],
        responses=responses, bbox=bbox, size=size, config=config)


def test_true_color_png(sh_config, l2a):
    request = _request(sh_config, l2a, TRUE_COLOR, [SentinelHubRequest.output_response("default", MimeType.PNG)],
                       mosaicking_order=MosaickingOrder.LEAST_CC)
    image = request.get_data()[0]
    assert image.shape == (96, 128, 3)
    assert image.dtype == np.uint8
    assert image.std() > 3, "a landscape is not a flat colour"
    assert 10 < image.mean() < 250


def test_jpeg_and_defaults(sh_config, l2a):
    request = _request(sh_config, l2a, TRUE_COLOR, [SentinelHubRequest.output_response("default", MimeType.JPG)])
    image = request.get_data()[0]
    assert image.shape == (96, 128, 3) and image.dtype == np.uint8


def test_multiband_float32_tiff_in_utm(sh_config, l1c):
    evalscript = """//VERSION=3
    function setup() {
      return {input: [{bands: %s, units: "REFLECTANCE"}],
              output: {id: "bands", bands: 13, sampleType: SampleType.FLOAT32}};
    }
    function evaluatePixel(s) { return [%s]; }
    """ % (str(ALL_L1C).replace("'", '"'), ", ".join(f"s.{b}" for b in ALL_L1C))
    utm_bbox = BBox((455000, 5103000, 456280, 5104000), CRS("32633"))
    request = SentinelHubRequest(
        evalscript=evalscript,
        input_data=[SentinelHubRequest.input_data(l1c, time_interval=("2023-07-01", "2023-07-31"),
                                                  mosaicking_order=MosaickingOrder.LEAST_CC)],
        responses=[SentinelHubRequest.output_response("bands", MimeType.TIFF)],
        bbox=utm_bbox, resolution=(10, 10), config=sh_config)
    assert request.payload["input"]["bounds"]["properties"]["crs"] == "http://www.opengis.net/def/crs/EPSG/0/32633"
    data = request.get_data()[0]
    assert data.shape == (100, 128, 13)
    assert data.dtype == np.float32
    assert np.all(data >= 0) and np.all(data < 1.5)
    # quantised like the archive: reflectance = DN / 10000
    assert np.allclose(np.round(data[..., 3] * 10000), data[..., 3] * 10000, atol=1e-2)


def test_multi_output_tar_with_userdata(sh_config, l2a):
    evalscript = """//VERSION=3
    function setup() {
      return {input: [{bands: ["B04", "B08", "SCL", "dataMask"]}],
              output: [{id: "ndvi", bands: 1, sampleType: "FLOAT32"},
                       {id: "scl", bands: 1, sampleType: "UINT8"},
                       {id: "mask", bands: 1, sampleType: "UINT8"}],
              mosaicking: Mosaicking.ORBIT};
    }
    function preProcessScenes(collections) {
      collections.scenes.orbits = collections.scenes.orbits.slice(0, 3);
      return collections;
    }
    function evaluatePixel(samples, scenes) {
      var s = samples[0];
      return {ndvi: [index(s.B08, s.B04)], scl: [s.SCL], mask: [s.dataMask]};
    }
    function updateOutputMetadata(scenes, inputMetadata, outputMetadata) {
      outputMetadata.userData = {
        dates: scenes.orbits.map(function (o) { return o.dateFrom; }),
        norm: inputMetadata.normalizationFactor
      };
    }
    """
    request = _request(sh_config, l2a, evalscript, [
        SentinelHubRequest.output_response("ndvi", MimeType.TIFF),
        SentinelHubRequest.output_response("scl", MimeType.PNG),
        SentinelHubRequest.output_response("mask", MimeType.TIFF),
        SentinelHubRequest.output_response("userdata", MimeType.JSON),
    ])
    result = request.get_data()[0]
    assert set(result) == {"ndvi.tif", "scl.png", "mask.tif", "userdata.json"}
    assert result["ndvi.tif"].dtype == np.float32 and result["ndvi.tif"].shape == (96, 128)
    assert -1 <= result["ndvi.tif"].min() and result["ndvi.tif"].max() <= 1
    assert set(np.unique(result["scl.png"])) <= set(range(12))
    assert np.all(result["mask.tif"] == 1)
    userdata = result["userdata.json"]
    assert userdata["norm"] == 0.0001
    assert len(userdata["dates"]) == 3
    assert userdata["dates"] == sorted(userdata["dates"], reverse=True), "ORBIT default order is mostRecent"


def test_geometry_bounds_mask_outside(sh_config, l2a):
    geometry = Geometry({"type": "Polygon", "coordinates": [[[14.57, 46.085], [14.63, 46.085], [14.60, 46.115],
                                                            [14.57, 46.085]]]}, CRS.WGS84)
    evalscript = """//VERSION=3
    function setup() { return {input: ["B08", "dataMask"], output: {bands: 2, sampleType: "UINT16"}}; }
    function evaluatePixel(s) { return [s.B08, s.dataMask]; }
    """
    request = SentinelHubRequest(
        evalscript=evalscript,
        input_data=[SentinelHubRequest.input_data(l2a, time_interval=("2023-06-01", "2023-06-30"),
                                                  other_args={"dataFilter": {"maxCloudCoverage": 100}})],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
        geometry=geometry, size=(60, 30), config=sh_config)
    data = request.get_data()[0]
    assert data.shape == (30, 60, 2) and data.dtype == np.uint16
    inside = data[..., 1] == 1
    assert 0.2 < inside.mean() < 0.8, "triangle covers part of its bounding box"
    assert np.all(data[~inside] == 0)
    assert inside[25, 30] and not inside[2, 2]


def test_dem_request(sh_config, dem):
    evalscript = """//VERSION=3
    function setup() { return {input: ["DEM"], output: {bands: 1, sampleType: "FLOAT32"}}; }
    function evaluatePixel(s) { return [s.DEM]; }
    """
    bbox = BBox((13.6, 46.3, 13.9, 46.5), CRS.WGS84)
    request = SentinelHubRequest(
        evalscript=evalscript, input_data=[SentinelHubRequest.input_data(dem)],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
        bbox=bbox, size=(90, 60), config=sh_config)
    assert request.payload["input"]["data"][0]["dataFilter"] == {"demInstance": "COPERNICUS_30"}
    heights = request.get_data()[0]
    assert heights.shape == (60, 90) and heights.dtype == np.float32
    assert -100 < heights.min() < heights.max() < 9000
    assert heights.max() - heights.min() > 20, "terrain has relief"


def test_evalscript_js_error_is_400_with_message(sh_config, l2a):
    evalscript = """//VERSION=3
    function setup() { return {input: ["B02"], output: {bands: 1}}; }
    function evaluatePixel(s) { return [s.B02 * notDefinedAnywhere]; }
    """
    request = _request(sh_config, l2a, evalscript, [SentinelHubRequest.output_response("default", MimeType.PNG)])
    with pytest.raises(DownloadFailedException) as info:
        request.get_data()
    text = str(info.value)
    assert "400" in text
    assert "ReferenceError" in text and "notDefinedAnywhere" in text
    assert info.value.request_exception.response.json()["error"]["code"] == "RENDERER_EXCEPTION"


def test_wrong_band_count_and_bad_format(sh_config, l2a):
    wrong_count = """//VERSION=3
    function setup() { return {input: ["B02"], output: {bands: 3}}; }
    function evaluatePixel(s) { return [s.B02]; }
    """
    request = _request(sh_config, l2a, wrong_count, [SentinelHubRequest.output_response("default", MimeType.PNG)])
    with pytest.raises(DownloadFailedException, match="expects 3 bands"):
        request.get_data()
    float_png = """//VERSION=3
    function setup() { return {input: ["B02"], output: {bands: 1, sampleType: "FLOAT32"}}; }
    function evaluatePixel(s) { return [s.B02]; }
    """
    request = _request(sh_config, l2a, float_png, [SentinelHubRequest.output_response("default", MimeType.PNG)])
    with pytest.raises(DownloadFailedException, match="image/png"):
        request.get_data()
    unknown_band = TRUE_COLOR.replace('"B02", "B03"', '"B02", "B99"')
    request = _request(sh_config, l2a, unknown_band, [SentinelHubRequest.output_response("default", MimeType.PNG)])
    with pytest.raises(DownloadFailedException, match="B99"):
        request.get_data()


def test_malformed_payload_shape(sandbox, sh_config):
    import requests
    from sentinelhub import SentinelHubSession

    token = SentinelHubSession(config=sh_config).token["access_token"]
    response = requests.post(sandbox.url + "/api/v1/process", json={"input": {}},
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and error["reason"] == "Bad Request" and error["code"] == "COMMON_BAD_PAYLOAD"
    assert "bounds" in error["message"]
