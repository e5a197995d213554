"""Third-party example code runs against the sandbox with only URLs and credentials changed.

The scripts below are written the way sentinelhub-py's and eo-learn's own documentation
examples are: built-in `DataCollection.SENTINEL2_L1C/L2A/DEM_COPERNICUS_30`, no `define_from`,
no gemhub import. Each runs in a fresh interpreter of the user environment, so what is tested
is gemhub_workspace.endpoint_compat as installed by its `.pth` at start-up (the way it reaches
every notebook kernel and eo-learn worker), not an import done by this test process.

Every client subprocess is fenced: `HTTPS_PROXY`/`HTTP_PROXY` point at 127.0.0.1:9 (nothing
listens there), with `NO_PROXY` for loopback only, so any request to another host is
refused on this machine instead of leaving it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap

import pytest
from sentinelhub import CRS, BBox, bbox_to_dimensions
from sentinelhub.api.catalog import get_available_timestamps

from gemhub_sandbox.contract import INSECURE_TRANSPORT_ENV, TOKEN_PATH

MAIN = "https://services.sentinel-hub.com"
REFUSING_PROXY = "http://127.0.0.1:9"

# What every script starts with: the only sandbox-specific lines are these four settings.
PREAMBLE = """\
import os
from sentinelhub import SHConfig

config = SHConfig()
config.sh_client_id = os.environ["SH_CLIENT_ID"]
config.sh_client_secret = os.environ["SH_CLIENT_SECRET"]
config.sh_base_url = os.environ["SH_BASE_URL"]
config.sh_token_url = os.environ["SH_TOKEN_URL"]
"""


def client_env(sandbox, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GEMHUB_", "SH_")) and k.lower() not in ("http_proxy", "https_proxy", "no_proxy",
                                                                         "all_proxy")}
    env.update({
        "SH_CLIENT_ID": "alice-id",
        "SH_CLIENT_SECRET": "alice-secret",
        "SH_BASE_URL": sandbox.url,
        "SH_TOKEN_URL": sandbox.url + TOKEN_PATH,
        # The sandbox's token endpoint is plain http on loopback; requests-oauthlib refuses
        # a non-https token URL unless this is set. (The conftest sets it too; explicit here.)
        INSECURE_TRANSPORT_ENV: "1",
        "HTTPS_PROXY": REFUSING_PROXY, "https_proxy": REFUSING_PROXY,
        "HTTP_PROXY": REFUSING_PROXY, "http_proxy": REFUSING_PROXY,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "PYTHONWARNINGS": "ignore",
    })
    env.update(extra)
    return env


def run_client(tmp_path, sandbox, body: str, *, preamble: str = PREAMBLE, check: bool = True, timeout: float = 60,
               **env) -> subprocess.CompletedProcess | dict:
    script = tmp_path / "example.py"
    script.write_text(preamble + textwrap.dedent(body))
    proc = subprocess.run([sys.executable, str(script)], env=client_env(sandbox, **env), cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=timeout)
    if not check:
        return proc
    assert proc.returncode == 0, f"client script failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def catalog_dates(sh_config, collection, bbox, interval, maxcc=None) -> list[str]:
    """The acquisitions in `interval`, found the documented way (explicit define_from)."""
    stamps = get_available_timestamps(bbox, interval, collection, maxcc=maxcc, config=sh_config,
                                      time_difference=dt.timedelta(hours=1))
    return [t.isoformat() for t in stamps]


def test_process_true_colour_l1c(endpoint_compat_pth, sandbox, tmp_path):
    result = run_client(tmp_path, sandbox, """
        import json
        from sentinelhub import (CRS, BBox, DataCollection, MimeType, MosaickingOrder, SentinelHubRequest,
                                 bbox_to_dimensions)

        evalscript_true_color = '''
        //VERSION=3
        function setup() {
            return {input: [{bands: ["B02", "B03", "B04"]}], output: {bands: 3}};
        }
        function evaluatePixel(sample) {
            return [3.5 * sample.B04, 3.5 * sample.B03, 3.5 * sample.B02];
        }
        '''

        resolution = 60
        farmland_bbox = BBox(bbox=(15.10, 45.74, 15.30, 45.86), crs=CRS.WGS84)
        farmland_size = bbox_to_dimensions(farmland_bbox, resolution=resolution)

        request_true_color = SentinelHubRequest(
            evalscript=evalscript_true_color,
            input_data=[
                SentinelHubRequest.input_data(
                    data_collection=DataCollection.SENTINEL2_L1C,
                    time_interval=("2023-06-01", "2023-06-30"),
                    mosaicking_order=MosaickingOrder.LEAST_CC,
                )
            ],
            responses=[SentinelHubRequest.output_response("default", MimeType.PNG)],
            bbox=farmland_bbox,
            size=farmland_size,
            config=config,
        )
        true_color_imgs = request_true_color.get_data()
        image = true_color_imgs[0]
        print(f"Returned data is of type = {type(true_color_imgs)} and length {len(true_color_imgs)}.")
        print(json.dumps({"size": list(farmland_size), "shape": list(image.shape), "dtype": str(image.dtype),
                          "mean": float(image.mean()), "url": request_true_color.download_list[0].url}))
    """)
    width, height = result["size"]
    assert (width, height) == bbox_to_dimensions(BBox((15.10, 45.74, 15.30, 45.86), CRS.WGS84), resolution=60)
    assert 250 < width < 265 and 215 < height < 230, "about 15.6 km x 13.3 km at 60 m"
    assert result["shape"] == [height, width, 3] and result["dtype"] == "uint8"
    assert 10 < result["mean"] < 250
    assert result["url"] == sandbox.url + "/api/v1/process"


def test_process_multi_response_l2a(endpoint_compat_pth, sandbox, sh_config, l2a, tmp_path):
    result = run_client(tmp_path, sandbox, """
        import json
        from sentinelhub import CRS, BBox, DataCollection, MimeType, SentinelHubRequest

        evalscript = '''
        //VERSION=3
        function setup() {
            return {
                input: [{bands: ["B04", "B08", "CLM", "dataMask"]}],
                output: {id: "default", bands: 1, sampleType: "FLOAT32"},
                mosaicking: "ORBIT"
            };
        }
        function evaluatePixel(samples) {
            var best = -1;
            for (var i = 0; i < samples.length; i++) {
                var s = samples[i];
                if (s.dataMask && !s.CLM) best = Math.max(best, index(s.B08, s.B04));
            }
            return [best];
        }
        function updateOutputMetadata(scenes, inputMetadata, outputMetadata) {
            outputMetadata.userData = {
                norm_factor: inputMetadata.normalizationFactor,
                dates: scenes.orbits.map(function (o) { return o.dateFrom; })
            };
        }
        '''

        bbox = BBox((15.17, 45.78, 15.23, 45.82), crs=CRS.WGS84)
        request = SentinelHubRequest(
            evalscript=evalscript,
            input_data=[SentinelHubRequest.input_data(DataCollection.SENTINEL2_L2A,
                                                      time_interval=("2023-05-01", "2023-05-31"))],
            responses=[
                SentinelHubRequest.output_response("default", MimeType.TIFF),
                SentinelHubRequest.output_response("userdata", MimeType.JSON),
            ],
            bbox=bbox,
            size=(64, 48),
            config=config,
        )
        data = request.get_data()[0]
        ndvi = data["default.tif"]
        userdata = data["userdata.json"]
        print(json.dumps({"keys": sorted(data), "shape": list(ndvi.shape), "dtype": str(ndvi.dtype),
                          "max": float(ndvi.max()), "userdata": userdata}))
    """)
    assert result["keys"] == ["default.tif", "userdata.json"]
    assert result["shape"] == [48, 64] and result["dtype"] == "float32"
    assert 0.3 < result["max"] <= 1.0, "May farmland is green"
    assert result["userdata"]["norm_factor"] == pytest.approx(0.0001)
    dates = sorted(d[:10] for d in result["userdata"]["dates"])
    bbox = BBox((15.17, 45.78, 15.23, 45.82), CRS.WGS84)
    expected = sorted({d[:10] for d in catalog_dates(sh_config, l2a, bbox, ("2023-05-01", "2023-05-31"))})
    assert dates == expected and len(dates) >= 5


def test_catalog_search_and_available_timestamps(endpoint_compat_pth, sandbox, sh_config, l2a, tmp_path):
    result = run_client(tmp_path, sandbox, """
        import datetime as dt
        import json
        from sentinelhub import CRS, BBox, DataCollection, SentinelHubCatalog
        from sentinelhub.api.catalog import get_available_timestamps

        catalog = SentinelHubCatalog(config=config)
        aoi = BBox((15.17, 45.78, 15.23, 45.82), crs=CRS.WGS84)
        time_interval = ("2023-07-01", "2023-08-31")

        search_iterator = catalog.search(
            DataCollection.SENTINEL2_L2A,
            bbox=aoi,
            time=time_interval,
            filter="eo:cloud_cover < 60",
            fields={"include": ["id", "properties.datetime", "properties.eo:cloud_cover"], "exclude": []},
        )
        results = list(search_iterator)
        print("Total number of results:", len(results))

        timestamps = get_available_timestamps(
            aoi, time_interval, DataCollection.SENTINEL2_L2A, maxcc=0.6,
            time_difference=dt.timedelta(hours=1), config=config,
        )
        print(json.dumps({
            "search": [[r["id"], r["properties"]["datetime"], r["properties"]["eo:cloud_cover"]] for r in results],
            "timestamps": [t.isoformat() for t in timestamps],
        }))
    """)
    search = result["search"]
    assert search and all(cc < 60 for _, _, cc in search)
    search_times = sorted({dt.datetime.fromisoformat(t.replace("Z", "+00:00")).replace(tzinfo=None)
                           for _, t, _ in search})
    stamps = [dt.datetime.fromisoformat(t) for t in result["timestamps"]]
    assert stamps == sorted(stamps) and all(t.tzinfo is None for t in stamps)
    assert [t.date() for t in stamps] == sorted({t.date() for t in search_times})
    assert all(dt.datetime(2023, 7, 1) <= t < dt.datetime(2023, 9, 1) for t in stamps)
    bbox = BBox((15.17, 45.78, 15.23, 45.82), CRS.WGS84)
    assert result["timestamps"] == catalog_dates(sh_config, l2a, bbox, ("2023-07-01", "2023-08-31"), maxcc=0.6)


def test_eolearn_input_and_dem_tasks(endpoint_compat_pth, sandbox, sh_config, l2a, tmp_path):
    result = run_client(tmp_path, sandbox, """
        import datetime as dt
        import json

        from eolearn.core import EOWorkflow, FeatureType, OutputTask, linearly_connect_tasks
        from eolearn.io import SentinelHubDemTask, SentinelHubInputTask
        from sentinelhub import CRS, BBox, DataCollection

        band_names = ["B02", "B03", "B04", "B08", "B11", "B12"]
        add_data = SentinelHubInputTask(
            bands_feature=(FeatureType.DATA, "L2A_BANDS"),
            bands=band_names,
            resolution=20,
            maxcc=0.8,
            time_difference=dt.timedelta(minutes=120),
            data_collection=DataCollection.SENTINEL2_L2A,
            additional_data=[(FeatureType.MASK, "dataMask", "IS_DATA"), (FeatureType.MASK, "CLM")],
            config=config,
            max_threads=2,
        )
        add_dem = SentinelHubDemTask(
            feature=(FeatureType.DATA_TIMELESS, "DEM"),
            data_collection=DataCollection.DEM_COPERNICUS_30,
            resolution=20,
            config=config,
        )
        output = OutputTask("eopatch")
        nodes = linearly_connect_tasks(add_data, add_dem, output)
        workflow = EOWorkflow(nodes)

        roi_bbox = BBox((502000, 5068000, 504400, 5069600), crs=CRS.UTM_33N)
        time_interval = ("2023-06-01", "2023-06-30")
        result = workflow.execute({nodes[0]: {"bbox": roi_bbox, "time_interval": time_interval}})
        eopatch = result.outputs["eopatch"]
        print(eopatch)

        def describe(array):
            return {"shape": list(array.shape), "dtype": str(array.dtype)}

        print(json.dumps({
            "bands": describe(eopatch.data["L2A_BANDS"]),
            "is_data": describe(eopatch.mask["IS_DATA"]),
            "clm": describe(eopatch.mask["CLM"]),
            "dem": describe(eopatch.data_timeless["DEM"]),
            "dem_range": [float(eopatch.data_timeless["DEM"].min()), float(eopatch.data_timeless["DEM"].max())],
            "timestamps": [t.isoformat() for t in eopatch.timestamps],
            "bbox": str(eopatch.bbox),
        }))
    """)
    roi = BBox((502000, 5068000, 504400, 5069600), CRS.UTM_33N)
    expected = catalog_dates(sh_config, l2a, roi, ("2023-06-01", "2023-06-30"), maxcc=0.8)
    assert result["timestamps"] == expected and 3 <= len(expected) <= 6
    n = len(expected)
    assert result["bands"] == {"shape": [n, 80, 120, 6], "dtype": "float32"}
    assert result["is_data"] == {"shape": [n, 80, 120, 1], "dtype": "bool"}
    assert result["clm"] == {"shape": [n, 80, 120, 1], "dtype": "uint8"}
    assert result["dem"] == {"shape": [80, 120, 1], "dtype": "float32"}
    low, high = result["dem_range"]
    assert -50 < low <= high < 5000 and high > low


def test_default_base_url_is_untouched(endpoint_compat_pth, sandbox, tmp_path):
    """The hook is active, but with sentinelhub-py's default sh_base_url nothing changes; and only
    collections whose service URL is exactly MAIN follow a foreign sh_base_url."""
    result = run_client(tmp_path, sandbox, preamble="", body="""
        import json
        import os
        import sys

        start_up = {"sentinelhub_imported": "sentinelhub" in sys.modules,
                    "hook": any(getattr(f, "__gemhub_endpoint_compat__", False) for f in sys.meta_path)}

        from sentinelhub import CRS, BBox, DataCollection, MimeType, SentinelHubRequest, SHConfig
        from sentinelhub.api import catalog, base_request

        def url(collection, config):
            request = SentinelHubRequest(
                evalscript="//VERSION=3", input_data=[SentinelHubRequest.input_data(collection)],
                responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
                bbox=BBox((15.1, 45.7, 15.2, 45.8), CRS.WGS84), size=(8, 8), config=config)
            return request.download_list[0].url

        default = SHConfig(use_defaults=True)
        sandbox = SHConfig(use_defaults=True, sh_base_url=os.environ["SH_BASE_URL"])
        creodias = SHConfig(use_defaults=True, sh_base_url="https://creodias.sentinel-hub.com")
        mine = DataCollection.SENTINEL2_L2A.define_from("MY_L2A_ELSEWHERE", service_url="http://127.0.0.1:7")
        print(json.dumps({
            **start_up,
            "patched": [getattr(f, "__gemhub_endpoint_compat__", False)
                        for f in (base_request.SentinelHubBaseApiRequest._get_base_url,
                                  catalog.get_available_timestamps)],
            "service_urls": [c.service_url for c in (DataCollection.SENTINEL2_L1C, DataCollection.SENTINEL2_L2A,
                                                      DataCollection.DEM, DataCollection.DEM_COPERNICUS_30)],
            "default_l2a": url(DataCollection.SENTINEL2_L2A, default),
            "default_landsat": url(DataCollection.LANDSAT_OT_L2, default),
            "creodias_l2a": url(DataCollection.SENTINEL2_L2A, creodias),
            "sandbox_l2a": url(DataCollection.SENTINEL2_L2A, sandbox),
            "sandbox_landsat": url(DataCollection.LANDSAT_OT_L2, sandbox),
            "sandbox_mine": url(mine, sandbox),
            "default_base": default.sh_base_url,
        }))
    """)
    assert result["sentinelhub_imported"] is False, "the .pth must not import sentinelhub at start-up"
    assert result["hook"] is True and result["patched"] == [True, True]
    assert result["service_urls"] == [MAIN] * 4
    assert result["default_base"] == MAIN
    assert result["default_l2a"] == MAIN + "/api/v1/process"
    assert result["default_landsat"] == "https://services-uswest2.sentinel-hub.com/api/v1/process"
    assert result["creodias_l2a"] == MAIN + "/api/v1/process", "Sinergise deployments keep upstream routing"
    assert result["sandbox_l2a"] == sandbox.url + "/api/v1/process"
    assert result["sandbox_landsat"] == "https://services-uswest2.sentinel-hub.com/api/v1/process"
    assert result["sandbox_mine"] == "http://127.0.0.1:7/api/v1/process"


def test_default_base_url_timestamps_still_go_to_main(endpoint_compat_pth, sandbox, tmp_path):
    """get_available_timestamps with the default sh_base_url asks services.sentinel-hub.com, as upstream
    does (refused by the local proxy fence, so nothing leaves the machine)."""
    proc = run_client(tmp_path, sandbox, preamble="", check=False, body="""
        import os
        from sentinelhub import CRS, BBox, DataCollection, SHConfig
        from sentinelhub.api.catalog import get_available_timestamps

        # default sh_base_url; a token from the sandbox, so that the failure is the Catalog request
        config = SHConfig(use_defaults=True, sh_client_id=os.environ["SH_CLIENT_ID"],
                          sh_client_secret=os.environ["SH_CLIENT_SECRET"], sh_token_url=os.environ["SH_TOKEN_URL"],
                          max_download_attempts=1)
        get_available_timestamps(BBox((15.1, 45.7, 15.2, 45.8), CRS.WGS84), ("2023-06-01", "2023-06-30"),
                                 DataCollection.SENTINEL2_L2A, config=config)
    """)
    assert proc.returncode != 0
    assert "https://services.sentinel-hub.com/api/v1/catalog/1.0.0/search" in proc.stderr, proc.stderr[-2000:]
    assert "127.0.0.1', port=9" in proc.stderr or "Connection refused" in proc.stderr, proc.stderr[-2000:]


def test_opt_out_restores_upstream_behaviour(endpoint_compat_pth, sandbox, tmp_path):
    """With GEMHUB_ENDPOINT_COMPAT=0 the same unchanged script tries services.sentinel-hub.com (and is
    refused locally by the proxy fence)."""
    proc = run_client(tmp_path, sandbox, check=False, GEMHUB_ENDPOINT_COMPAT="0", body="""
        import sys
        from sentinelhub import CRS, BBox, DataCollection, MimeType, SentinelHubRequest

        assert not any(getattr(f, "__gemhub_endpoint_compat__", False) for f in sys.meta_path)
        config.max_download_attempts = 1
        request = SentinelHubRequest(
            evalscript="//VERSION=3\\nfunction setup() {return {input: ['B04'], output: {bands: 1}};}\\n"
                       "function evaluatePixel(s) {return [s.B04];}",
            input_data=[SentinelHubRequest.input_data(DataCollection.SENTINEL2_L1C,
                                                      time_interval=("2023-06-01", "2023-06-30"))],
            responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
            bbox=BBox((15.1, 45.7, 15.2, 45.8), crs=CRS.WGS84),
            size=(16, 16),
            config=config,
        )
        request.get_data()
    """)
    assert proc.returncode != 0
    assert "AssertionError" not in proc.stderr, proc.stderr[-2000:]
    assert "https://services.sentinel-hub.com/api/v1/process" in proc.stderr, proc.stderr[-2000:]
    assert "127.0.0.1', port=9" in proc.stderr or "Connection refused" in proc.stderr, proc.stderr[-2000:]
