"""The preview of an executed notebook: nbconvert HTML with JupyterLab's look, safe to publish.

Readers see what the notebook did without running it, so the page shows outputs
but nothing that runs: scripts, forms, frames and event handlers are stripped,
and it loads nothing from the internet (its stylesheet is published beside it).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from .site import TEMPLATES_DIR

NBCONVERT_TEMPLATES = TEMPLATES_DIR / "nbconvert"
PREVIEW_TEMPLATE = "gemhub_preview"
NOTEBOOK_CSS = "notebook-lab.css"  # beside the previews, in static/


# What notebook markdown and rich outputs (pandas tables, reprs) need; no scripts, forms,
# frames, <style> or event handlers. nbconvert's own clean_html allows too little (no
# headings or paragraphs), so the preview uses this list instead.
_ALLOWED_TAGS = frozenset(
    "a abbr b blockquote br caption cite code col colgroup dd del details div dl dt em figcaption figure "
    "h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strong sub summary sup "
    "table tbody td tfoot th thead tr u ul var".split()
)
_ALLOWED_ATTRIBUTES = {
    "*": ["class", "id", "title", "align", "style", "lang", "dir"],
    "a": ["href", "title", "name"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan"],
    "th": ["colspan", "rowspan", "scope"],
    "col": ["span"],
    "ol": ["start", "type"],
}


def _clean_html(element) -> str:
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    text = element.decode() if isinstance(element, bytes) else str(element)

    def allowed(tag: str, name: str, value: str) -> bool:
        if tag == "img" and name == "src":
            return value.startswith(("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp",
                                     "https:", "http:")) or "://" not in value and not value.startswith("data:")
        if tag == "a" and name == "href":
            return not value.strip().lower().startswith("data:")
        return name in _ALLOWED_ATTRIBUTES.get(tag, []) or name in _ALLOWED_ATTRIBUTES["*"]

    return bleach.clean(
        text,
        tags=_ALLOWED_TAGS,
        attributes=allowed,
        protocols=["http", "https", "mailto", "data"],
        css_sanitizer=CSSSanitizer(),
        strip=True,
        strip_comments=True,
    )


def render_preview(executed: dict | str, *, title: str, asset_base: str = "../") -> str:
    """nbconvert HTML (JupyterLab look) of the executed notebook, with no internet resources.

    Scripts in outputs are stripped (sanitize_html); the shared stylesheet is
    `{asset_base}static/` + NOTEBOOK_CSS (see `notebook_css()`).
    """
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name=PREVIEW_TEMPLATE,
        extra_template_basedirs=[str(NBCONVERT_TEMPLATES)],
        sanitize_html=True,
        exclude_anchor_links=True,
    )
    exporter.register_filter("clean_html", _clean_html)
    # papermill's injected cell holds the runner's own paths: not for readers.
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={"injected-parameters"}, enabled=True), enabled=True
    )
    text = executed if isinstance(executed, str) else json.dumps(executed)
    node = nbformat.reads(text, as_version=4)
    html, _ = exporter.from_notebook_node(
        node, resources={"metadata": {"name": title}, "gemhub_stylesheet": f"{asset_base}static/{NOTEBOOK_CSS}"}
    )
    return html


def notebook_css() -> str:
    """JupyterLab's stylesheet from nbconvert's lab template (light theme), shared by every preview."""
    from nbconvert import HTMLExporter

    for folder in HTMLExporter(template_name="lab").template_paths:
        static = Path(folder) / "static"
        if (static / "index.css").exists() and (static / "theme-light.css").exists():
            return (static / "index.css").read_text() + "\n" + (static / "theme-light.css").read_text()
    raise RuntimeError("nbconvert's lab template stylesheet not found")
