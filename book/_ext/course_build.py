"""Sphinx extension with the course's build rules.

* Execution budget: after the build, write ``_build/execution_times.json`` (page -> seconds, as measured
  when the page was last executed; a cached page keeps its recorded time) and fail the build for any page
  over ``nb_execution_budget`` seconds, so a slow experiment cannot creep into the book unnoticed.
* Pages listed in ``always_reread`` (the glossary, gathered from every chapter) are read again on every
  build, since their inputs are other files.
* Duplicate script tags are dropped: sphinx-thebe registers its inline configuration each time Sphinx
  reads documents, so a build that reads in more than one pass emits ``const THEBE_JS_URL`` twice and the
  browser reports "Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""
import json
from pathlib import Path

from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.errors import ExtensionError


def _report_execution_times(app, exception):
    if exception is not None:
        return
    budget = app.config.nb_execution_budget
    times = {}
    for docname in sorted(app.env.found_docs):
        data = NbMetadataCollector.get_doc_data(app.env).get(docname, {}).get("exec_data")
        if data and data.get("runtime") is not None:
            times[docname] = round(float(data["runtime"]), 2)
    out = Path(app.outdir).parent / "execution_times.json"
    out.write_text(json.dumps({"budget_s": budget, "pages": times}, indent=1))
    slow = {d: t for d, t in times.items() if t > budget}
    if slow:
        raise ExtensionError(f"pages over the execution budget of {budget} s: {slow}")


def _always_reread(app, env, added, changed, removed):
    return [d for d in app.config.always_reread if d in env.found_docs]


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        # the same script may be registered once with filename None and once with ''
        key = (getattr(js, "filename", js) or "", repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.add_config_value("nb_execution_budget", 60, "env")
    app.add_config_value("always_reread", [], "env")
    app.connect("build-finished", _report_execution_times)
    app.connect("env-get-outdated", _always_reread)
    app.connect("html-page-context", _dedupe_scripts, priority=100)  # before any handler that returns a template
    return {"parallel_read_safe": True, "parallel_write_safe": True}
