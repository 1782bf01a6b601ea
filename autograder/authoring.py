"""Build nbgrader source notebooks from Python, so that cell metadata is never typed by hand.

An instructor notebook is a list of cells; each helper returns one cell with
the nbgrader metadata nbgrader 0.9 expects (schema 3)::

    nb = notebook([
        markdown("intro", "# Chapter 1 ..."),
        solution("sigmoid_grad", "def sigmoid_grad(x):\\n    ### BEGIN SOLUTION\\n ...\\n    ### END SOLUTION"),
        tests("test_sigmoid_grad", 2, "check_sigmoid_grad(sigmoid_grad, visible_only=True)",
              hidden="check_sigmoid_grad(sigmoid_grad)"),
        written("why_relu", 3, "Explain ...", "Model answer ..."),
    ])
    write(nb, "solutions/01_vanishing_gradients/01_vanishing_gradients.ipynb")

Kinds of cell: ``markdown``/``code`` (read-only context), ``solution`` (student
code), ``tests`` (autograded, locked, points), ``written`` (a question and a
manually graded answer cell).
"""
import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _meta(grade_id, *, grade=False, solution=False, locked=False, task=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": task}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(grade_id, text):
    """Read-only text."""
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata=_meta(grade_id, locked=True))


def code(grade_id, source, locked=True):
    """Context code the student runs but does not edit (imports, plots)."""
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=_meta(grade_id, locked=locked))


def solution(grade_id, source):
    """Student code: what lies between ### BEGIN/END SOLUTION becomes a stub in the release."""
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=_meta(grade_id, solution=True))


def tests(grade_id, points, visible, hidden=None):
    """An autograded test cell: the visible lines, then hidden ones the release does not show."""
    source = visible.strip("\n")
    if hidden:
        source += "\n### BEGIN HIDDEN TESTS\n" + hidden.strip("\n") + "\n### END HIDDEN TESTS"
    return nbformat.v4.new_code_cell(source, metadata=_meta(grade_id, grade=True, locked=True, points=points))


def written(grade_id, points, answer):
    """A manually graded answer cell (markdown); the answer becomes 'YOUR ANSWER HERE' in the release."""
    text = "### BEGIN SOLUTION\n" + answer.strip("\n") + "\n### END SOLUTION"
    return nbformat.v4.new_markdown_cell(text, metadata=_meta(grade_id, grade=True, solution=True, points=points))


def notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write(nb, path):
    nbformat.validate(nb)
    nbformat.write(nb, str(path))


def total_points(nb):
    return sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in nb.cells)
