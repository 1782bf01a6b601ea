"""Sphinx extension: drop script tags that appear twice on a page.

sphinx-thebe registers its inline configuration script each time Sphinx reads documents, so a build
that reads in more than one pass emits `const THEBE_JS_URL = ...` twice and the browser reports
"Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""


def _dedupe(app, pagename, templatename, context, doctree):
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
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
