"""`gemhub marketplace build`: index.json and the static site from a hand-made report.

Fast: tiny notebooks made with nbformat and a report written with the report
model; the real runner is exercised by test_notebook_runner.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from gemhub.cli import cli
from gemhub.marketplace import IndexValidationError, load_index, render_catalogue, render_detail, validate_index
from gemhub.marketplace.build import BuildError, BuildInputError, build_site
from gemhub.marketplace.index import json_schema
from gemhub.notebooks.report import Environment, NotebookResult, Report, Summary

LOCK = "ab" * 32
# Built from pieces so this file itself does not look like it carries a token.
TOKEN = "eyJ" + "hbGciOiJIUzI1NiJ9" + ".eyJ" + "zdWIiOiJhZGEifQ" + "." + "c2lnbmF0dXJlLXNpZ25hdHVyZQ"
XSS = '<script>alert("pwned")</script>'


def meta(title: str, **extra) -> dict:
    data = {
        "title": title,
        "description": f"{title}: a tiny notebook made by the marketplace tests, long enough for the schema.",
        "tags": ["ndvi", "testing"],
        "level": "beginner",
        "collections": ["sentinel-2-l2a"],
        "needs_credentials": False,
        "authors": ["gemhub tests"],
        "licence": "MIT",
    }
    data.update(extra)
    return data


def notebook(gemhub: dict, output_text: str | None = None) -> nbformat.NotebookNode:
    code = new_code_cell(f"print({output_text!r})" if output_text else "x = 1")
    if output_text is not None:
        code.outputs = [new_output("stream", name="stdout", text=output_text + "\n")]
        code.execution_count = 1
    return new_notebook(cells=[new_markdown_cell("# Heading\nSome *prose*."), code], metadata={"gemhub": gemhub})


class Project:
    """A notebooks folder, executed copies and a report, as the runner would leave them."""

    def __init__(self, root: Path):
        self.root = root
        self.books = root / "notebooks"
        self.runs = root / "runs"
        self.results: list[NotebookResult] = []
        self.books.mkdir()

    def add(self, rel: str, gemhub: dict, *, status: str = "passed", output: str = "hello", thumbnail: bool = True,
            in_report: bool = True) -> None:
        path = self.books / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook(gemhub), path)
        if not in_report:
            return
        slug = path.stem
        run_dir = self.runs / slug
        run_dir.mkdir(parents=True)
        executed = run_dir / f"{slug}.ipynb"
        executed_nb = notebook(gemhub, output)
        injected = new_code_cell(f'output_dir = "{run_dir}/outputs"', metadata={"tags": ["injected-parameters"]})
        executed_nb.cells.insert(1, injected)
        nbformat.write(executed_nb, executed)
        thumb = None
        if thumbnail and status == "passed":
            thumb = run_dir / f"{slug}.png"
            Image.new("RGB", (960, 300), (30, 120, 90)).save(thumb)
        self.results.append(NotebookResult(
            path=str(path), slug=slug, status=status, cached=False, duration_s=3.5,
            finished_at=datetime(2025, 3, 14, 9, 30, tzinfo=timezone.utc),
            failing_cell=2 if status == "failed" else None,
            error="ValueError: boom" if status == "failed" else ("timed out after 600 s" if status == "timeout" else None),
            output_notebook=str(executed), thumbnail=str(thumb) if thumb else None,
            cache_key="k" * 64, parameters={},
        ))

    def report(self) -> Path:
        count = lambda s: sum(r.status == s for r in self.results)  # noqa: E731
        report = Report(
            generated_at=datetime(2025, 3, 14, 9, 31, tzinfo=timezone.utc),
            environment=Environment(user_lock_sha256=LOCK, kernel="gemhub-user", python="3.11.7"),
            summary=Summary(total=len(self.results), passed=count("passed"), failed=count("failed"),
                            timeout=count("timeout"), cached=0, wall_s=10.0),
            notebooks=self.results,
        )
        path = self.runs / "report.json"
        report.write(path)
        return path

    def build(self, **kwargs):
        return build_site(self.report(), self.root / "site", self.books, **kwargs)


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path)


def site_text(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def test_only_passing_notebooks_are_published(project):
    project.add("alpha.ipynb", meta("Alpha notebook"), output="NDVI mean is 0.42")
    project.add("workshop/beta.ipynb", meta("Beta notebook", series="workshop", order=2, level="advanced"),
                output="beta output")
    project.add("gamma.ipynb", meta("Gamma notebook"), status="failed")
    project.add("delta.ipynb", meta("Delta notebook"), status="timeout")
    project.add("epsilon.ipynb", meta("Epsilon notebook"), in_report=False)
    result = project.build(launch_base="/hub/user-redirect/gemhub/launch/")
    site = project.root / "site"

    data = json.loads((site / "index.json").read_text())
    jsonschema.Draft202012Validator(json_schema()).validate(data)
    assert data["schema_version"] == 1
    assert [n["slug"] for n in data["notebooks"]] == ["alpha", "beta"]
    alpha, beta = data["notebooks"]
    assert alpha["id"] == "alpha" and alpha["title"] == "Alpha notebook" and alpha["level"] == "beginner"
    assert alpha["path"] == "alpha.ipynb" and beta["path"] == "workshop/beta.ipynb"
    assert beta["series"] == "workshop" and beta["order"] == 2
    assert alpha["status"] == "passed" and alpha["duration_s"] == 3.5
    assert alpha["last_tested"].startswith("2025-03-14T09:30:00")
    assert alpha["environment"] == LOCK[:12] and data["environment"]["user_lock_sha256"] == LOCK
    from gemhub.notebooks.runner import content_hash  # the same hash as the runner's

    assert alpha["content_hash"] == content_hash(project.books / "alpha.ipynb")
    assert alpha["thumbnail"] == "thumbnails/alpha.png"
    with Image.open(site / alpha["thumbnail"]) as thumb:
        assert thumb.format == "PNG" and thumb.width <= 640
    assert alpha["preview"] == "previews/alpha.html"
    preview = (site / alpha["preview"]).read_text()
    assert "NDVI mean is 0.42" in preview
    assert "cdnjs" not in preview and "<script" not in preview
    assert str(project.runs) not in preview, "papermill's injected parameters cell is not shown"

    page = (site / "notebooks" / "alpha.html").read_text()
    assert 'href="/hub/user-redirect/gemhub/launch/alpha"' in page
    assert 'href="/hub/user-redirect/gemhub/launch/alpha?fresh=1"' in page
    assert 'src="../previews/alpha.html"' in page and 'src="../thumbnails/alpha.png"' in page
    assert (site / "static" / "marketplace.css").exists() and (site / "static" / "notebook-lab.css").exists()
    catalogue = (site / "index.html").read_text()
    assert 'href="./notebooks/alpha.html"' in catalogue and 'src="./thumbnails/alpha.png"' in catalogue
    for text in (catalogue, page, preview):
        assert "https://" not in text.split("<body", 1)[0], "no CDN in the page head"

    left = {item.slug: item for item in result.summary.left_out}
    assert {slug: item.status for slug, item in left.items()} == {
        "gamma": "failed", "delta": "timeout", "epsilon": "missing"}
    assert "cell 2" in left["gamma"].reason and "boom" in left["gamma"].reason
    summary = json.loads((site / "build-summary.json").read_text())
    assert summary["published"] == ["alpha", "beta"]
    assert {item["slug"] for item in summary["left_out"]} == {"gamma", "delta", "epsilon"}
    assert not any(name in path for path in site_text(site) for name in ("gamma", "delta", "epsilon"))


def test_rebuild_removes_notebooks_no_longer_published(project):
    project.add("alpha.ipynb", meta("Alpha notebook"))
    project.build()
    site = project.root / "site"
    assert (site / "previews" / "alpha.html").exists()
    project.results[0] = project.results[0].model_copy(update={"status": "failed", "thumbnail": None})
    project.build()
    assert not (site / "previews" / "alpha.html").exists()
    assert not (site / "notebooks" / "alpha.html").exists()
    assert not (site / "thumbnails" / "alpha.png").exists()


def test_invalid_metadata_names_notebook_and_field(project):
    broken = meta("Alpha notebook")
    del broken["title"]
    project.add("sub/alpha.ipynb", broken)
    project.add("beta.ipynb", meta("Beta notebook"))
    result = project.build()
    [item] = result.summary.left_out
    assert item.status == "invalid" and item.slug == "alpha"
    assert "sub/alpha.ipynb" in item.reason and "title" in item.reason
    assert result.summary.published == ["beta"]


def test_index_validation_errors_name_notebook_and_field(project):
    project.add("alpha.ipynb", meta("Alpha notebook"))
    project.add("beta.ipynb", meta("Beta notebook"))
    project.build()
    path = project.root / "site" / "index.json"
    assert [n.slug for n in load_index(path).notebooks] == ["alpha", "beta"]
    data = json.loads(path.read_text())
    del data["notebooks"][1]["title"]
    data["notebooks"][0]["level"] = "expert"
    with pytest.raises(IndexValidationError) as caught:
        validate_index(data)
    message = str(caught.value)
    assert "notebook 'beta': title: Field required" in message
    assert "notebook 'alpha': level:" in message


def test_notebook_leaking_a_token_is_not_published(project):
    project.add("alpha.ipynb", meta("Alpha notebook"))
    project.add("leaky.ipynb", meta("Leaky notebook"), output=f'access_token = "{TOKEN}"')
    result = project.build()
    assert result.summary.published == ["alpha"]
    [item] = result.summary.left_out
    assert item.slug == "leaky" and item.status == "credentials"
    assert "JSON web token" in item.reason and TOKEN not in item.reason
    for name, content in site_text(project.root / "site").items():
        assert TOKEN.encode() not in content, name
        assert b"c2lnbmF0dXJlLXNpZ25hdHVyZQ" not in content, name


def test_catalogue_lists_titles_and_escapes_descriptions(project):
    project.add("alpha.ipynb", meta("Alpha & <b>friends</b>", description=f"A description with {XSS} in it, "
                                    "which must be shown as text and never run."))
    project.add("beta.ipynb", meta("Beta notebook", level="intermediate", tags=["ndvi", "water"]))
    result = project.build()
    site = project.root / "site"
    catalogue = (site / "index.html").read_text()
    page = (site / "notebooks" / "alpha.html").read_text()
    for html in (catalogue, page):
        assert XSS not in html and "<b>friends</b>" not in html
        assert "&lt;script&gt;alert(" in html
        assert "Alpha &amp; &lt;b&gt;friends&lt;/b&gt;" in html
    assert "Beta notebook" in catalogue
    for entry in result.index.notebooks:
        assert f'data-slug="{entry.slug}"' in catalogue
    # The embedded index is JSON a script reads; no raw "<" that could close its <script> element.
    embedded = catalogue.split('id="gemhub-index">', 1)[1].split("</script>", 1)[0]
    assert "<" not in embedded
    assert json.loads(embedded)[0]["description"].startswith("A description with <script>")
    assert 'data-tag="water"' in catalogue and 'data-tag="ndvi"' in catalogue


def test_render_functions_for_the_service(project):
    project.add("alpha.ipynb", meta("Alpha notebook"))
    index = project.build().index
    base = "/services/marketplace/"
    catalogue = render_catalogue(index, user="ada<x>", launch_base="/hub/user-redirect/gemhub/launch", asset_base=base)
    assert "Signed in as <strong>ada&lt;x&gt;</strong>" in catalogue
    assert f'href="{base}static/marketplace.css"' in catalogue and f'src="{base}static/marketplace.js"' in catalogue
    assert f'href="{base}notebooks/alpha.html"' in catalogue and f'src="{base}thumbnails/alpha.png"' in catalogue
    detail = render_detail(index.notebooks[0], user=None, launch_base="https://hub.example/hub/user-redirect/gemhub/launch/",
                           asset_base=base, page_url=base + "n/{slug}", catalogue_url=base)
    assert "Signed in as" not in detail
    assert 'href="https://hub.example/hub/user-redirect/gemhub/launch/alpha?fresh=1"' in detail
    assert f'src="{base}previews/alpha.html"' in detail and f'href="{base}"' in detail


def test_bad_input_is_reported(project, tmp_path):
    with pytest.raises(BuildInputError, match="notebooks folder not found"):
        build_site(tmp_path / "r.json", tmp_path / "site", tmp_path / "nowhere")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 1, "generated_at": "2025-01-01T00:00:00Z",
                               "environment": {"user_lock_sha256": LOCK, "kernel": "k", "python": "3"},
                               "summary": {"total": 1, "passed": 1, "failed": 0, "timeout": 0, "cached": 0, "wall_s": 1},
                               "notebooks": [{"slug": "alpha", "path": "alpha.ipynb"}]}))
    with pytest.raises(BuildInputError) as caught:
        build_site(bad, tmp_path / "site", project.books)
    assert str(bad) in str(caught.value) and "notebook 'alpha': status: Field required" in str(caught.value)


def test_cli(project, tmp_path):
    runner = CliRunner()
    missing = tmp_path / "no-such-report.json"
    result = runner.invoke(cli, ["marketplace", "build", "--report", str(missing), "--out", str(tmp_path / "site"),
                                 "--notebooks", str(project.books)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and str(missing) in result.stderr
    assert "Traceback" not in result.output

    project.add("alpha.ipynb", meta("Alpha notebook"))
    project.add("beta.ipynb", meta("Beta notebook"), status="failed")
    report = project.report()
    result = runner.invoke(cli, ["marketplace", "build", "--report", str(report), "--out", str(tmp_path / "site"),
                                 "--notebooks", str(project.books), "--launch-base", "/launch/"])
    assert result.exit_code == 0, result.output
    assert "published 1 notebook(s): alpha" in result.stdout and "beta.ipynb [failed]" in result.stdout
    assert 'href="/launch/alpha"' in (tmp_path / "site" / "notebooks" / "alpha.html").read_text()

    result = runner.invoke(cli, ["marketplace", "index-schema"])
    assert result.exit_code == 0 and json.loads(result.stdout)["title"] == "gemhub marketplace index"


def test_a_leaking_part_of_a_series_takes_only_itself_out(project):
    """A page lists the other parts of its series: the part whose own content leaks is left out,
    and its neighbour, whose page would have shown the leak, is published without it."""
    project.add("one.ipynb", meta("Part one", series="course", order=1))
    project.add("two.ipynb", meta(f"Two {TOKEN}", series="course", order=2))
    result = project.build()
    assert result.summary.published == ["one"]
    [item] = result.summary.left_out
    assert item.slug == "two" and item.status == "credentials" and TOKEN not in item.reason
    for name, content in site_text(project.root / "site").items():
        assert TOKEN.encode() not in content, name
    assert "Part one" in (project.root / "site" / "notebooks" / "one.html").read_text()


def test_a_credential_beside_the_site_aborts_the_build_and_is_removed(project):
    project.add("alpha.ipynb", meta("Alpha notebook"))
    site = project.root / "site"
    site.mkdir()
    (site / "notes.txt").write_text(f"token {TOKEN}\n")
    (site / "readme.txt").write_text("published alongside the site\n")
    with pytest.raises(BuildError, match=r"notes.txt: contains a credential \(JSON web token\); removed, build aborted"):
        project.build()
    assert not (site / "notes.txt").exists() and (site / "readme.txt").exists()
    for name, content in site_text(site).items():
        assert TOKEN.encode() not in content, name


def test_metadata_problems_show_the_offending_value(project):
    project.add("alpha.ipynb", meta("Alpha notebook", description="Too short.", level="expert"))
    [item] = project.build().summary.left_out
    assert "alpha.ipynb: metadata.gemhub.description: String should have at least 40 characters (got 'Too short.')" \
        in item.reason
    assert "metadata.gemhub.level: Input should be 'beginner', 'intermediate' or 'advanced' (got 'expert')" \
        in item.reason


def test_the_hub_image_carries_the_published_catalogue(project, tmp_path):
    """The chart's marketplace is the catalogue inside the hub image (gemhub/images/catalogue.py):
    staging copies a published site whole, an unpublished one gives an empty catalogue, the tag
    follows the catalogue, and a damaged index is refused naming the file."""
    from gemhub.images.context import content_hash, stage
    from gemhub.images.specs import SPECS

    project.add("alpha.ipynb", meta("Alpha notebook"))
    project.build()
    site = project.root / "site"
    hub = SPECS["hub"]

    with_site = stage(hub, tmp_path / "with", catalogue_site=site)
    assert site_text(with_site / "marketplace") == site_text(site)
    empty = stage(hub, tmp_path / "empty", catalogue_site=tmp_path / "never-published")
    assert list((empty / "marketplace").iterdir()) == []
    assert content_hash(with_site, "base") != content_hash(empty, "base")
    assert not any((SPECS[name].carries_catalogue for name in ("user", "proxy")))

    (site / "index.json").write_text('{"schema_version": 1, "notebooks": "none"}')
    with pytest.raises(IndexValidationError) as refused:
        stage(hub, tmp_path / "damaged", catalogue_site=site)
    assert str(site / "index.json") in str(refused.value) and "notebooks" in str(refused.value)
