"""Catalog API through SentinelHubCatalog."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sentinelhub import CRS, BBox, Geometry, SentinelHubCatalog
from sentinelhub.api.catalog import get_available_timestamps
from sentinelhub.exceptions import DownloadFailedException

BBOX = BBox((14.56, 46.08, 14.64, 46.12), CRS.WGS84)
TIME = ("2023-04-01", "2023-09-30")


@pytest.fixture(scope="module")
def catalog(sh_config):
    return SentinelHubCatalog(config=sh_config)


def test_service_documents(catalog, l2a):
    assert "cql2-text" in " ".join(catalog.get_conformance()["conformsTo"])
    assert {c["id"] for c in catalog.get_collections()} >= {"sentinel-2-l1c", "sentinel-2-l2a", "dem"}
    assert catalog.get_collection(l2a)["id"] == "sentinel-2-l2a"


def test_search_time_bbox_revisit(catalog, l2a):
    items = list(catalog.search(l2a, bbox=BBOX, time=TIME))
    times = [dt.datetime.fromisoformat(i["properties"]["datetime"].replace("Z", "+00:00")) for i in items]
    assert times == sorted(times)
    assert all(dt.datetime(2023, 4, 1, tzinfo=dt.timezone.utc) <= t < dt.datetime(2023, 10, 1, tzinfo=dt.timezone.utc)
               for t in times)
    gaps = {(b - a).days for a, b in zip(times, times[1:])}
    assert gaps == {5}, "S2A+S2B give a 5 day revisit"
    assert {i["properties"]["platform"] for i in items} == {"sentinel-2a", "sentinel-2b"}
    assert all(i["id"].startswith(("S2A_MSIL2A_", "S2B_MSIL2A_")) for i in items)
    feature = catalog.get_feature(l2a, items[0]["id"])
    assert feature["properties"] == items[0]["properties"]


def test_cloud_filter_pagination_and_fields(catalog, l2a):
    everything = list(catalog.search(l2a, bbox=BBOX, time=TIME, limit=100))
    low = list(catalog.search(l2a, bbox=BBOX, time=TIME, filter="eo:cloud_cover < 30", limit=100))
    assert 0 < len(low) < len(everything)
    assert all(i["properties"]["eo:cloud_cover"] < 30 for i in low)

    fields = {"include": ["id", "properties.datetime", "properties.eo:cloud_cover"], "exclude": []}
    iterator = catalog.search(l2a, bbox=BBOX, time=TIME, filter="eo:cloud_cover < 30", fields=fields, limit=4)
    paged = list(iterator)
    assert [i["id"] for i in paged] == [i["id"] for i in low], "pages of 4 concatenate to the full result"
    assert all(set(i) == {"id", "properties"} for i in paged)
    assert all(set(i["properties"]) == {"datetime", "eo:cloud_cover"} for i in paged)

    as_json = list(catalog.search(l2a, bbox=BBOX, time=TIME, filter_lang="cql2-json",
                                  filter={"op": "<", "args": [{"property": "eo:cloud_cover"}, 30]},
                                  fields={"exclude": ["assets", "links"]}))
    assert [i["id"] for i in as_json] == [i["id"] for i in low]
    assert "assets" not in as_json[0] and "geometry" in as_json[0]


def test_intersects_and_timestamps_helper(catalog, l1c, sh_config):
    geometry = Geometry(BBOX.geometry, CRS.WGS84)
    by_geometry = catalog.search(l1c, geometry=geometry, time=("2023-06-01", "2023-06-30")).get_ids()
    assert len(by_geometry) == 6
    stamps = get_available_timestamps(BBOX, ("2023-06-01", "2023-06-30"), l1c, maxcc=0.3, config=sh_config)
    cover = {i["properties"]["datetime"]: i["properties"]["eo:cloud_cover"]
             for i in catalog.search(l1c, bbox=BBOX, time=("2023-06-01", "2023-06-30"))}
    assert len(stamps) == sum(c < 30 for c in cover.values())


def test_dem_collection_and_bad_filter(catalog):
    items = list(catalog.search("dem", bbox=BBox((13.5, 45.5, 14.5, 46.5), CRS.WGS84)))
    assert len(items) == 4
    with pytest.raises(DownloadFailedException, match="400"):
        list(catalog.search("sentinel-2-l2a", bbox=BBOX, time=TIME, filter="eo:cloud_cover <<< 3"))


def test_catalog_cloud_cover_matches_imagery(sh_config, l2a, catalog):
    """eo:cloud_cover describes the whole 1-degree tile; rendering the tile coarsely must agree with CLM."""
    from sentinelhub import MimeType, SentinelHubRequest

    items = list(catalog.search(l2a, bbox=BBOX, time=("2023-06-01", "2023-07-31")))
    item = max(items, key=lambda i: abs(i["properties"]["eo:cloud_cover"] - 50))
    when = dt.datetime.fromisoformat(item["properties"]["datetime"].replace("Z", "+00:00"))
    tile = BBox(tuple(item["bbox"]), CRS.WGS84)
    evalscript = """//VERSION=3
    function setup() { return {input: ["CLM"], output: {bands: 1, sampleType: "UINT8"}}; }
    function evaluatePixel(s) { return [s.CLM]; }
    """
    request = SentinelHubRequest(
        evalscript=evalscript,
        input_data=[SentinelHubRequest.input_data(l2a, time_interval=(when - dt.timedelta(minutes=1),
                                                                     when + dt.timedelta(minutes=1)))],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
        bbox=tile, size=(120, 120), config=sh_config)
    clm = request.get_data()[0]
    assert abs(100 * np.mean(clm) - item["properties"]["eo:cloud_cover"]) < 8
