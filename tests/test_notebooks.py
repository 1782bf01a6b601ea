"""Every assignment, through nbgrader: sources pass, releases fail, releases in sync, end-to-end grading.

These run real kernels (and `import torch` in each), so they are marked slow; they are part of `make test`.
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.validator import Validator
from traitlets.config import Config

from autograder import course

ROOT = course.ROOT
ASSIGNMENTS = course.assignments()
pytestmark = pytest.mark.slow


def nbgrader(*args, cwd):
    """Run the real nbgrader command line; alembic must be on PATH, so the venv's bin goes first."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def validate(path, invert=False):
    """nbgrader's Validator, read through its Python API (`nbgrader validate` exits 0 even on failure)."""
    cfg = Config()
    cfg.ExecutePreprocessor.timeout = 300
    return Validator(config=cfg, invert=invert).validate(str(path))


def autograded_cells(nb):
    return [c for c in nb.cells if course.is_autograded_test(c)]


def test_there_are_assignments():
    assert "01_vanishing_gradients" in ASSIGNMENTS
    for a in ASSIGNMENTS:
        assert course.notebooks(a, "exercises"), f"{a} has no released notebook in exercises/"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_passes_all_its_tests(assignment):
    for path in course.notebooks(assignment):
        nb = course.read(path)
        assert autograded_cells(nb), f"{path.name} has no autograded test cell"
        results = validate(path)
        assert results == {}, f"{path.name}: {json.dumps(results, indent=1)[:3000]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_fails_every_autograded_test(assignment):
    for path in course.notebooks(assignment, "exercises"):
        results = validate(path, invert=True)
        passed = [r["source"][:200] for r in results.get("passed", [])]
        assert not passed, f"{path.name}: these tests pass on the empty stubs:\n" + "\n---\n".join(passed)
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME"):
            assert marker not in text, f"{path.name} leaks '{marker}'"


def _normalized(path):
    """A notebook without what changes from one generation to the next."""
    nb = json.loads(Path(path).read_text())
    cells = [{"cell_type": c["cell_type"], "source": "".join(c["source"]),
              "nbgrader": c.get("metadata", {}).get("nbgrader")} for c in nb["cells"]]
    return json.dumps({"kernelspec": nb["metadata"].get("kernelspec"), "cells": cells}, indent=1, sort_keys=True)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_in_sync_with_source(assignment, tmp_path):
    nbgrader("generate_assignment", assignment, "--force",
             f"--CourseDirectory.release_directory={tmp_path}", f"--db=sqlite:///{tmp_path / 'gb.db'}", cwd=ROOT)
    fresh = sorted(p.name for p in (tmp_path / assignment).glob("*.ipynb"))
    committed = sorted(p.name for p in course.notebooks(assignment, "exercises"))
    assert fresh == committed
    for name in fresh:
        assert _normalized(tmp_path / assignment / name) == _normalized(ROOT / "exercises" / assignment / name), (
            f"exercises/{assignment}/{name} is stale: run `make release`")


def _make_course(tmp_path):
    """A throwaway nbgrader course whose source is the repository's solutions/."""
    config = (ROOT / "nbgrader_config.py").read_text()
    config += (f"\nc.CourseDirectory.source_directory = {str(ROOT / 'solutions')!r}\n"
               "c.CourseDirectory.release_directory = 'release'\n")
    (tmp_path / "nbgrader_config.py").write_text(config)
    return tmp_path


def _submit(course_dir, student, assignment, nbs):
    folder = course_dir / "submitted" / student / assignment
    folder.mkdir(parents=True)
    for name, nb in nbs.items():
        nbformat.write(nb, str(folder / name))
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_end_to_end(assignment, tmp_path):
    """Three students -- all correct, half wrong, untouched -- graded by `nbgrader autograde` and `export`."""
    cdir = _make_course(tmp_path)
    nbgrader("generate_assignment", assignment, "--force", cwd=cdir)
    auto_max = 0.0
    subs = {"correct": {}, "half": {}, "untouched": {}}
    for src_path in course.notebooks(assignment):
        src = course.read(src_path)
        rel = course.read(cdir / "release" / assignment / src_path.name)
        auto_max += sum(c.metadata.nbgrader["points"] for c in autograded_cells(src))
        ids = course.solution_ids(src)
        subs["correct"][src_path.name] = course.fill_in(rel, src)
        subs["half"][src_path.name] = course.fill_in(rel, src, keep_stub=set(ids[len(ids) // 2:]))
        subs["untouched"][src_path.name] = rel
    for student, nbs in subs.items():
        _submit(cdir, student, assignment, nbs)
    nbgrader("autograde", assignment, "--force", cwd=cdir)
    nbgrader("export", cwd=cdir)
    with open(cdir / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert scores["correct"] == pytest.approx(auto_max), scores
    assert 0 < scores["half"] < auto_max, scores
    assert scores["untouched"] == 0, scores
