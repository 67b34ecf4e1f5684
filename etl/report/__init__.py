"""``report.html``: one page per run for the person who owns the list, rendered from plain documents.

A shared base package (below every stage, like ``presets``): it reads the ``report.json`` document and,
when there is one, the ``verify.json`` document — dicts, never a stage's objects — so validate's page,
migrate's page and the page re-rendered after a ``verify`` all come from the same templates and can
never disagree with the JSON they were rendered from.
"""

from etl.report.page import render_page

__all__ = ["render_page"]
