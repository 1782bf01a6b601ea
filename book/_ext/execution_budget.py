"""Sphinx extension: every executed page must run within a time budget.

After the build, writes ``_build/execution_times.json`` (page -> seconds, as measured when the page
was last executed; a cached page keeps its recorded time) and fails the build for any page over
``nb_execution_budget`` seconds, so a slow experiment cannot creep into the book unnoticed.
"""
import json
from pathlib import Path

from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.errors import ExtensionError


def _report(app, exception):
    if exception is not None:
        return
    env = app.env
    budget = app.config.nb_execution_budget
    times = {}
    for docname in sorted(env.found_docs):
        data = NbMetadataCollector.get_doc_data(env).get(docname, {}).get("exec_data")
        if data and data.get("runtime") is not None:
            times[docname] = round(float(data["runtime"]), 2)
    out = Path(app.outdir).parent / "execution_times.json"
    out.write_text(json.dumps({"budget_s": budget, "pages": times}, indent=1))
    slow = {d: t for d, t in times.items() if t > budget}
    if slow:
        raise ExtensionError(f"pages over the execution budget of {budget} s: {slow}")


def setup(app):
    app.add_config_value("nb_execution_budget", 60, "env")
    app.connect("build-finished", _report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
