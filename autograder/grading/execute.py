"""nbgrader's ``Execute`` step, run in a sandbox where every test cell is judged from a clean state.

:class:`SandboxedExecute` replaces ``Execute`` in nbgrader's ``Autograde.autograde_preprocessors``;
everything around it stays nbgrader's (sanitising the submission, putting the instructor's test cells
back from the gradebook, scoring the outputs, late penalties, the autograded/ folder, feedback).

For one notebook it writes a job (the code cells after nbgrader's sanitising, the per-cell time
limit, the limits) into a fresh box, starts the sandbox around :mod:`.box`, and fills in each code
cell's outputs from what the box reports (:mod:`.judge`): stdout/stderr, results, figures, errors.
A test cell that was not reached (the process died, the overall deadline passed) gets an error
output, never an empty one -- an empty test cell would count as passed (nbgrader #427). nbgrader then
scores the cells from these outputs exactly as it scores a kernel's.
"""
import ast
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import nbformat
from nbgrader import utils as nbutils
from nbgrader.preprocessors import Execute

from .lines import split_messages
from .pipeline import nbgrader_id as grade_id
from .sandbox import IN, Box

# Libraries imported before any cell's clock starts when a notebook imports them (import times under
# load run to seconds; torch's to several).
HEAVY = ("numpy", "scipy", "torch", "torchvision", "torchaudio", "matplotlib", "sklearn", "pandas", "sympy",
         "PIL", "seaborn", "statsmodels", "tensorflow", "keras", "jax", "numba")


@dataclass
class Context:
    """Per-process settings of the grading run (set by the pipeline before nbgrader starts)."""

    sandbox: object = None
    timeout: float = 120.0
    records: dict = field(default_factory=dict)


CONTEXT = Context()

# The student's own cells never need the course package (only the test cells import its checks).
_PACKAGE = re.compile(r"\bautograder\b")


def is_test(cell):
    return cell.cell_type == "code" and nbutils.is_grade(cell) and not nbutils.is_solution(cell)


def _imports(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def build_job(nb, timeout, limits, cgroup):
    cells, checkers, used = [], set(), set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        kind = "test" if is_test(cell) else "code"
        names = _imports(cell.source)
        used.update(n.split(".")[0] for n in names)
        if kind == "test":
            checkers.update(n for n in names if n.startswith("autograder.checks."))
        cells.append({"index": index, "kind": kind, "source": cell.source, "grade_id": grade_id(cell)})
    preimport = [m for m in HEAVY if m in used]
    if "matplotlib" in preimport:
        preimport.append("matplotlib.pyplot")
    n = len(cells)
    return {
        "cells": cells, "timeout": timeout, "preimport": preimport, "checkers": sorted(checkers),
        "files": f"{IN}/files",
        "limits": {"memory_mb": limits.memory_mb, "file_mb": limits.file_mb, "nofile": limits.nofile,
                   "nproc_user": max(256, limits.nproc * 8), "cgroup": bool(cgroup),
                   "cpu_s": int((timeout + 15) * (2 * n + 4) + 120)},
    }


def _error(ename, text):
    return nbformat.v4.new_output("error", ename=ename, evalue=text, traceback=[f"{ename}: {text}"])


def run_box(sandbox, box, job_inside, deadline_s):
    """Start the sandbox; return (results by cell index, events)."""
    r, w = os.pipe()
    cmd = sandbox.command(box, [sys.executable, "-m", "autograder.grading.box", job_inside,
                                "--result-fd", str(w)])
    with open(box.host / "box.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(w,),
                                cwd="/", start_new_session=True)
    os.close(w)
    results, events, buf = {}, [], b""
    deadline = time.monotonic() + deadline_s
    with os.fdopen(r, "rb", buffering=0) as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                events.append({"event": "incomplete", "detail": "the sandbox ran out of time"})
                break
            ready, _, _ = select.select([f], [], [], min(left, 5.0))
            if not ready:
                continue
            chunk = f.read(1 << 16)
            if not chunk:
                break
            messages, buf = split_messages(buf + chunk)
            for msg in messages:
                if "cell" in msg and isinstance(msg["cell"], int):
                    results[msg["cell"]] = msg
                else:
                    events.append(msg)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
    return results, events, proc.returncode


class SandboxedExecute(Execute):
    """nbgrader's ``Execute``, in the sandbox, with every test cell judged from a clean state."""

    def preprocess(self, nb, resources=None, km=None):
        ctx = CONTEXT
        sandbox = ctx.sandbox
        timeout = float(self.timeout or ctx.timeout or 120)
        job = build_job(nb, timeout, sandbox.limits, sandbox.cgroups)
        record = {"tests": {}, "flags": [], "events": []}
        g = (resources or {}).get("nbgrader", {})
        key = (g.get("assignment"), g.get("student"), g.get("notebook"))
        box = Box(sandbox)
        try:
            path = (resources or {}).get("metadata", {}).get("path")
            if path and os.path.isdir(path):  # the submission's other files, as the kernel would see them
                for dirpath, _, filenames in os.walk(path):
                    for name in filenames:
                        if not name.endswith(".ipynb"):
                            src = os.path.join(dirpath, name)
                            box.add_file(src, os.path.relpath(src, path))
            job_inside = box.write("job.json", json.dumps(job))
            budget = (timeout + 15) * (len(job["cells"]) + 1) + 90
            results, events, status = run_box(sandbox, box, job_inside, budget)
            if any(e.get("event") == "incomplete" for e in events) or status not in (0, None):
                try:  # the box's own output, for the instructor's state file -- never the student's feedback
                    record["box_log"] = (box.host / "box.log").read_bytes()[-3000:].decode(errors="replace")
                except OSError:
                    pass
        finally:
            if not os.environ.get("AUTOGRADER_KEEP_BOXES"):
                box.cleanup()
        record["events"] = [e for e in events if e.get("event") != "done"]
        record["timing"] = {e["event"]: e.get("seconds") for e in events if "seconds" in e}
        record["timing"]["box_cpu"] = next((e.get("cpu") for e in events if e.get("event") == "done"), None)
        self._fill(nb, job, results, events, record)
        own = [c.get("grade_id") or f"cell {c['index']}" for c in job["cells"]
               if c["kind"] == "code" and _PACKAGE.search(c["source"])]
        if own:  # the package holds the model solutions (autograder.reference): worth a look by hand
            record["flags"].append({"cell": ", ".join(own[:4]), "status": "uses_package", "rebound": []})
        nb.metadata.setdefault("language_info", {"name": "python"})
        ctx.records[key] = record
        return nb, resources

    def _fill(self, nb, job, results, events, record):
        incomplete = next((e for e in events if e.get("event") == "incomplete"), None)
        count = 0
        for cell in job["cells"]:
            index = cell["index"]
            nbcell = nb.cells[index]
            count += 1
            nbcell.execution_count = count
            res = results.get(index)
            if res is None:
                outputs = []
                if cell["kind"] == "test":
                    why = incomplete["detail"] if incomplete else "the notebook's run did not reach this cell"
                    outputs = [_error("NotGraded", f"{why}; this test scores 0")]
            else:
                outputs = [nbformat.from_dict(o) for o in res.get("outputs", [])]
            nbcell.outputs = outputs
            if cell["kind"] != "test":
                continue
            gid = grade_id(nbcell)
            score, max_score = nbutils.determine_grade(nbcell)
            status = res["status"] if res else "missing"
            record["tests"][gid] = {"status": status, "score": score, "max": max_score,
                                    "reason": _reason(outputs), "detail": (res or {}).get("detail", "")}
            rebound = (res or {}).get("rebound") or []
            if status == "tampered" or rebound:
                record["flags"].append({"cell": gid, "status": status, "rebound": rebound[:8],
                                        "reason": _reason(outputs) if status == "tampered" else ""})


def _reason(outputs):
    for o in outputs:
        if o.get("output_type") == "error":
            first = (o.get("evalue") or "").strip().splitlines()
            return f"{o.get('ename')}: {first[0] if first else ''}"[:200]
        if o.get("output_type") == "stream" and o.get("name") == "stderr":
            text = o.get("text", "").strip()
            return ("wrote to stderr: " + text.splitlines()[0][:150]) if text else "wrote to stderr"
    return ""
