# Two commands do all set-up on a fresh machine with Python 3.11:
#   make book   -- builds the website into _build/html
#   make test   -- runs every test (CI runs exactly this)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export OMP_NUM_THREADS ?= 1
export PYTHONHASHSEED := 0
MATHJAX_VERSION := 3.2.2
MATHJAX := book/_static/mathjax/tex-chtml.js
JOBS ?= 2

.PHONY: book test test-fast release lab grade bench-grading clean clean-cache

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# MathJax is served from the site (no CDN): fetched once from the npm registry.
$(MATHJAX):
	rm -rf _build/npm && mkdir -p _build/npm book/_static/mathjax
	cd _build/npm && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null && tar -xzf mathjax-$(MATHJAX_VERSION).tgz
	cd _build/npm/package/es5 && cp -r tex-chtml.js a11y input output ui sre $(CURDIR)/book/_static/mathjax/

# The website. Strict: a cell error, a warning or a broken reference fails the build.
book: $(VENV)/.installed $(MATHJAX)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

test: book
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(JOBS) -m "not slow"

# Regenerate exercises/ (the student release) from solutions/ after editing a source notebook.
release: $(VENV)/.installed
	for a in $$(ls solutions); do $(BIN)/nbgrader generate_assignment $$a --force --db sqlite:///_build/release-gradebook.db || exit 1; done

# JupyterLab on the released exercises, with nbgrader's assignment list and Validate extensions
# (server and lab side) enabled. Started from the repository root so that Validate reads
# nbgrader_config.py (its cell time limit); the file browser opens on exercises/.
lab: $(VENV)/.installed
	$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.assignment_list >/dev/null 2>&1
	$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.validate_assignment >/dev/null 2>&1
	$(BIN)/jupyter labextension enable @jupyter/nbgrader >/dev/null 2>&1
	$(BIN)/jupyter lab --ServerApp.root_dir=exercises

clean:
	rm -rf _build
clean-cache:
	rm -rf _build/.jupyter_cache

# Instructors: grade submitted/ in parallel, sandboxed, with the honest re-check (book/instructors.md).
# Options pass through ARGS, e.g. make grade ARGS="01_vanishing_gradients --jobs 2".
grade: $(VENV)/.installed
	$(BIN)/python -m autograder grade $(ARGS)

# Sequential nbgrader autograde vs the grading command on a synthetic class of 40 (minutes).
bench-grading: $(VENV)/.installed
	$(BIN)/python bench/grading_bench.py $(ARGS)
