"""The course on disk: where assignments live, and simulated student submissions.

Used by the tests, the grading tool and the benchmark. Paths follow
``nbgrader_config.py``: instructor sources in ``solutions/<assignment>/``,
student releases in ``exercises/<assignment>/``.
"""
import copy
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"

_SOLUTION_REGION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def assignments(root=ROOT):
    """Assignment names (folders of solutions/), in chapter order."""
    src = Path(root) / "solutions"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and list(p.glob("*.ipynb")))


def notebooks(assignment, kind="solutions", root=ROOT):
    """The notebooks of one assignment, in solutions/ or exercises/."""
    return sorted((Path(root) / kind / assignment).glob("*.ipynb"))


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution(cell):
    return bool(nbgrader_meta(cell).get("solution"))


def is_autograded_test(cell):
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def strip_solution_markers(source):
    """The instructor's answer as a student would type it: the delimiters removed."""
    return _SOLUTION_REGION.sub("", source)


def fill_in(release_nb, source_nb, keep_stub=()):
    """A submission: the released notebook with every solution cell answered as in the source,
    except the grade_ids in ``keep_stub``, which stay unanswered."""
    answers = {nbgrader_meta(c).get("grade_id"): c.source for c in source_nb.cells if is_solution(c)}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if is_solution(cell) and gid not in keep_stub and gid in answers:
            cell.source = strip_solution_markers(answers[gid])
    return nb


def solution_ids(nb, cell_type="code"):
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if is_solution(c) and c.cell_type == cell_type]


def read(path):
    return nbformat.read(str(path), as_version=4)
