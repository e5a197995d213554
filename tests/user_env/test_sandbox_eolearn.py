"""eo-learn input tasks against the sandbox."""
from __future__ import annotations

import datetime as dt

import numpy as np
from eolearn.core import FeatureType
from eolearn.io import SentinelHubDemTask, SentinelHubEvalscriptTask, SentinelHubInputTask
from sentinelhub import CRS, BBox, SentinelHubCatalog

BBOX = BBox((15.17, 45.78, 15.20, 45.80), CRS.WGS84)
INTERVAL = ("2023-05-01", "2023-06-30")


def test_input_task_bands_and_masks(sh_config, l2a):
    task = SentinelHubInputTask(
        data_collection=l2a, size=(48, 40), bands_feature=(FeatureType.DATA, "BANDS"),
        bands=["B02", "B03", "B04", "B08", "B11"],
        additional_data=[(FeatureType.MASK, "dataMask"), (FeatureType.MASK, "CLM"), (FeatureType.MASK, "SCL")],
        maxcc=0.8, config=sh_config)
    eop = task.execute(bbox=BBOX, time_interval=INTERVAL)

    catalog = SentinelHubCatalog(config=sh_config)
    expected = [dt.datetime.fromisoformat(i["properties"]["datetime"][:19])
                for i in catalog.search(l2a, bbox=BBOX, time=INTERVAL, filter="eo:cloud_cover < 80")]
    assert eop.timestamps == expected and len(expected) >= 5
    n = len(expected)
    bands = eop.data["BANDS"]
    assert bands.shape == (n, 40, 48, 5) and bands.dtype == np.float32
    assert 0 < bands.min() and bands.max() < 1.5, "DN were normalised back to reflectance"
    assert eop.mask["dataMask"].shape == (n, 40, 48, 1) and eop.mask["dataMask"].dtype == bool
    assert eop.mask["dataMask"].all()
    clm = eop.mask["CLM"][..., 0]
    scl = eop.mask["SCL"][..., 0]
    assert clm.dtype == np.uint8 and scl.dtype == np.uint8
    # clouds in CLM are classified as cloud (8/9) or thin cirrus (10) in SCL, never as vegetation
    assert clm.any() and not clm.all()
    assert np.isin(scl[clm == 1], [8, 9, 10]).all()
    assert np.all(scl[np.isin(scl, [8, 9])] > 0) and np.all(clm[scl == 9] == 1)
    # clouds are brighter in blue than the cropland underneath
    blue = bands[..., 0]
    assert blue[clm == 1].mean() > blue[(clm == 0) & (scl == 4)].mean() + 0.1


def test_evalscript_task_multitemporal(sh_config, l1c):
    evalscript = """//VERSION=3
    function setup() {
      return {input: [{bands: ["B04", "B08", "CLM", "dataMask"]}],
              output: [{id: "ndvi", bands: 1, sampleType: "FLOAT32"},
                       {id: "valid", bands: 1, sampleType: "UINT8"}]};
    }
    function evaluatePixel(s) {
      return {ndvi: [index(s.B08, s.B04)], valid: [s.dataMask && !s.CLM ? 1 : 0]};
    }
    """
    task = SentinelHubEvalscriptTask(
        features=[(FeatureType.DATA, "ndvi"), (FeatureType.MASK, "valid")], evalscript=evalscript,
        data_collection=l1c, size=(32, 32), time_difference=dt.timedelta(hours=1), maxcc=1.0, config=sh_config)
    eop = task.execute(bbox=BBOX, time_interval=INTERVAL)
    n = len(eop.timestamps)
    assert n == 12
    assert eop.data["ndvi"].shape == (n, 32, 32, 1) and eop.data["ndvi"].dtype == np.float32
    assert eop.mask["valid"].shape == (n, 32, 32, 1) and eop.mask["valid"].dtype == np.uint8
    assert set(np.unique(eop.mask["valid"])) <= {0, 1}


def test_dem_task(sh_config, dem):
    task = SentinelHubDemTask(feature="dem", data_collection=dem, resolution=30, config=sh_config)
    eop = task.execute(bbox=BBox((455000, 5100000, 458000, 5102400), CRS("32633")))
    assert eop.data_timeless["dem"].shape == (80, 100, 1)
    assert eop.data_timeless["dem"].dtype == np.float32
