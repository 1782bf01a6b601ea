"""The instructor's grading tool (``python -m autograder grade``): parallel results identical to
sequential nbgrader, every bad or hostile submission handled without touching the others, the
PostgreSQL gradebook, the LMS import, idempotent re-runs, and the whole nbgrader exchange cycle.

These start real sandboxes (bubblewrap, installed here when missing and we are root), a real
PostgreSQL server on loopback and nbgrader's real commands; they run in one xdist group.
"""
import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import course

ROOT = course.ROOT
sys.path.insert(0, str(ROOT / "bench"))
from grading_bench import synthetic_submission  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]
A1 = "01_vanishing_gradients"
COURSE_ID = "training-deep-networks"
TIMEOUT = "10"  # seconds per cell in the hostile run (a correct Chapter 1 cell needs well under 1 s)


# ================================================================ environment
def _apt_install(package):
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    for args in (["install"], ["update"], ["install"]):
        proc = subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q", *args]
                              + ([package] if args == ["install"] else []),
                              capture_output=True, text=True, timeout=1200,
                              env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if args == ["install"] and proc.returncode == 0:
            return True
    return False


@pytest.fixture(scope="module")
def bwrap():
    if not shutil.which("bwrap"):
        _apt_install("bubblewrap")
    if not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed and cannot be installed here (needs root and apt-get)")
    return shutil.which("bwrap")


def _pg_bindir():
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: float(p.parent.parent.name))
    return found[-1].parent if found else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A real PostgreSQL server on 127.0.0.1 (Debian's package), started for these tests and stopped after."""
    if _pg_bindir() is None:
        _apt_install("postgresql")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed and cannot be installed here")
    base = tmp_path_factory.mktemp("pg")
    data, log = base / "data", base / "server.log"
    prefix = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged user
        import pwd
        user = "postgres" if _has_user("postgres") else "nobody"
        pw = pwd.getpwnam(user)
        os.chmod(base, 0o755)
        for p in [base, *base.parents]:
            if str(p) in ("/", "/tmp"):
                break
            os.chmod(p, os.stat(p).st_mode | 0o055)
        os.chown(base, pw.pw_uid, pw.pw_gid)
        prefix = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--"]
    port = _free_port()

    def pg(*cmd, check=True):
        proc = subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120, cwd=base)
        if check:
            assert proc.returncode == 0, f"{cmd[0]} failed: {proc.stdout}\n{proc.stderr}"
        return proc

    pg(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "grader", "-E", "UTF8", "--no-sync")
    pg(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
       f"-p {port} -h 127.0.0.1 -k {base} -c fsync=off -c max_connections=60", "start")
    try:
        pg(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader", "course")
        yield f"postgresql://grader@127.0.0.1:{port}/course"
    finally:
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", check=False)


def _has_user(name):
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# ================================================================ a throwaway course
def _env(**extra):
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **extra)


def nbgrader(*args, cwd, env=None, check=True):
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env or _env(),
                          capture_output=True, text=True, timeout=900)
    if check:
        assert proc.returncode == 0, f"nbgrader {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def grade(course_dir, *args, check=True, env=None):
    """``python -m autograder grade`` in the course folder."""
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--quiet", *args], cwd=course_dir,
                          env=env or _env(), capture_output=True, text=True, timeout=1500)
    if check:
        assert proc.returncode == 0, f"grade {' '.join(args)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def make_course(folder, assignments, extra_config=""):
    config = (ROOT / "nbgrader_config.py").read_text()
    config += (f"\nc.CourseDirectory.source_directory = {str(ROOT / 'solutions')!r}\n"
               "c.CourseDirectory.release_directory = 'release'\n"
               'c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.ClearHiddenTests", '
               '"nbgrader.preprocessors.GetGrades", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]\n'
               + extra_config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(config)
    for a in assignments:
        nbgrader("generate_assignment", a, "--force", cwd=folder)
    return folder


def generated(course_dir):
    """The assignments whose release exists in this course (a half-written chapter may not generate)."""
    return sorted(p.name for p in (course_dir / "release").iterdir() if list(p.glob("*.ipynb")))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A course with every assignment released and in its gradebook (copied by each test). A chapter
    still being written whose source nbgrader cannot generate is left out, with a warning."""
    folder = make_course(tmp_path_factory.mktemp("template") / "course", [A1])
    for a in course.assignments():
        if a != A1 and nbgrader("generate_assignment", a, "--force", cwd=folder, check=False).returncode:
            import warnings
            warnings.warn(f"{a}: nbgrader generate_assignment failed; left out of the grading tests")
    return folder


def copy_course(template, dest):
    shutil.copytree(template, dest)
    return dest


def released(course_dir, assignment):
    return {p.name: course.read(p) for p in sorted((course_dir / "release" / assignment).glob("*.ipynb"))}


def sources(assignment):
    return {p.name: course.read(p) for p in course.notebooks(assignment)}


def submit(course_dir, student, assignment, nbs, raw=None):
    folder = course_dir / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in nbs.items():
        nbformat.write(nb, str(folder / name))
    for name, text in (raw or {}).items():
        (folder / name).write_text(text)
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    return folder


def filled(course_dir, assignment, keep_stub=()):
    rel, src = released(course_dir, assignment), sources(assignment)
    return {name: course.fill_in(rel[name], src[name], keep_stub=keep_stub) for name in rel}


def with_source(nb, grade_id, source):
    """The notebook with one cell's source replaced."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if course.nbgrader_meta(cell).get("grade_id") == grade_id:
            cell.source = source
            return nb
    raise KeyError(grade_id)


def without(nb, *grade_ids):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells = [c for c in nb.cells if course.nbgrader_meta(c).get("grade_id") not in grade_ids]
    return nb


def gradebook_scores(course_dir, db_url=None):
    """{(assignment, student, grade_id): auto score} and {(assignment, student): total} from nbgrader's API."""
    from nbgrader.api import Gradebook
    from autograder.grading.pipeline import normalize_db_url
    gb = Gradebook(normalize_db_url(db_url or f"sqlite:///{course_dir / 'gradebook.db'}"), COURSE_ID)
    cells, totals = {}, {}
    try:
        for a in gb.assignments:
            for sub in a.submissions:
                totals[(a.name, sub.student.id)] = sub.score
                for nb in sub.notebooks:
                    for g in nb.grades:
                        cells[(a.name, sub.student.id, g.name)] = g.auto_score
    finally:
        gb.close()
    return cells, totals


def state(course_dir, assignment, student):
    return json.loads((course_dir / "autograded" / ".autograder" / assignment / f"{student}.json").read_text())


def autograded_cell(course_dir, assignment, student, grade_id, notebook=None):
    path = course_dir / "autograded" / student / assignment / f"{notebook or assignment}.ipynb"
    for cell in course.read(path).cells:
        if course.nbgrader_meta(cell).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def auto_points(assignment):
    return {course.nbgrader_meta(c)["grade_id"]: float(course.nbgrader_meta(c)["points"])
            for nb in sources(assignment).values() for c in nb.cells if course.is_autograded_test(c)}


# ================================================================ parallel == sequential nbgrader
def test_parallel_results_identical_to_sequential_nbgrader(bwrap, template, tmp_path):
    """Every existing assignment, a partly wrong and a broken submission each: `nbgrader autograde`
    one assignment after the other, and the new command with 2 jobs, score every cell the same."""
    import random
    assignments = generated(template)
    seq = copy_course(template, tmp_path / "sequential")
    rnd = random.Random(4)
    for a in assignments:
        rel, src = released(seq, a), sources(a)
        for kind in ("partial", "broken"):
            submit(seq, kind, a, {n: synthetic_submission(rel[n], src[n], kind, rnd) for n in rel})
    par = copy_course(seq, tmp_path / "parallel")
    for a in assignments:
        nbgrader("autograde", a, cwd=seq)
    out = grade(par, "--jobs", "2", *assignments)
    expected, _ = gradebook_scores(seq)
    got, _ = gradebook_scores(par)
    assert expected and set(got) == set(expected)
    diff = {k: (expected[k], got[k]) for k in expected if expected[k] != got[k]}
    assert not diff, f"cells scored differently (nbgrader, ours): {diff}\n{out.stdout[-2000:]}"
    table = list(csv.DictReader(open(par / "grades.csv")))
    assert {(r["student"], r["assignment"]) for r in table} >= {(k, a) for a in assignments
                                                               for k in ("partial", "broken")}
    for a in assignments:
        assert (par / f"grades-{a}.png").stat().st_size > 1000


# ================================================================ bad and hostile submissions
PATCH_CHECKER = """\
import autograder.checks._core as core
import autograder.checks.vanishing_gradients as vg
core.assert_close = lambda *a, **k: None
core.run_elementwise = lambda *a, **k: None
for name in dir(vg):
    if name.startswith("check_"):
        setattr(vg, name, lambda *a, **k: None)
"""
PATCH_NUMPY = """\
import numpy as np
np.allclose = lambda *a, **k: True
np.abs = lambda x: 0 * np.asarray(x, dtype=float)
np.isfinite = lambda x: np.ones(np.shape(x), dtype=bool)
np.array_equal = lambda *a, **k: True
"""
PATCH_BUILTINS = """\
import builtins
builtins.enumerate = lambda *a, **k: iter(())
builtins.isinstance = lambda *a, **k: True
"""
PATCH_SYS_MODULES = """\
import sys, types
fake = types.ModuleType("autograder.checks.vanishing_gradients")
for name in ["check_sigmoid_grad", "check_tanh_grad", "check_relu_grad", "check_mlp_grad_norms",
             "check_clip_by_value", "check_clip_by_global_norm", "check_quiz_sigmoid_max", "check_quiz_chain_rule"]:
    setattr(fake, name, lambda *a, **k: None)
sys.modules["autograder.checks.vanishing_gradients"] = fake
"""
WRONG = {  # wrong answers, each of which the honest checks fail
    "sigmoid_grad": "def sigmoid(x):\n    return x\n\ndef sigmoid_grad(x):\n    return x\n",
    "clip_by_value": "def clip_by_value(grads, clip_value):\n    return grads\n",
}


def _spy(port, course_dir):
    """A cell that tries to read the solutions and the gradebook, write outside its copy and reach the
    network; it prints what happened, and would define correct functions from the solutions if it could
    read them."""
    source_nb = ROOT / "solutions" / A1 / f"{A1}.ipynb"
    return f"""\
import json, os, socket
attempts = {{}}
def attempt(name, fn):
    try:
        fn()
        attempts[name] = "ok"
    except Exception as exc:
        attempts[name] = type(exc).__name__
def steal():
    nb = json.load(open({str(source_nb)!r}))
    code = "\\n".join("".join(c["source"]) for c in nb["cells"]
                      if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {{}}).get("solution"))
    exec(code.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""), globals())
attempt("read_solutions", steal)
attempt("read_gradebook", lambda: open({str(course_dir / 'gradebook.db')!r}, "rb").read(16))
attempt("list_course", lambda: os.listdir({str(course_dir / 'submitted')!r})[0])
attempt("write_course", lambda: open({str(course_dir / 'pwned.txt')!r}, "w").write("x"))
attempt("write_repo", lambda: open({str(ROOT / 'pwned.txt')!r}, "w").write("x"))
attempt("write_submission", lambda: open({str(course_dir / 'submitted' / 'spy' / A1 / 'pwned.txt')!r}, "w").write("x"))
attempt("network_host", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3))
attempt("network_out", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3))
print("ATTEMPTS" + json.dumps(attempts))
"""


@pytest.fixture(scope="module")
def hostile(bwrap, template, tmp_path_factory):
    """One grading run (2 jobs) of a class where every student but one does something bad."""
    cdir = copy_course(template, tmp_path_factory.mktemp("hostile") / "course")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    rel, src = released(cdir, A1), sources(A1)
    name = f"{A1}.ipynb"
    ok = filled(cdir, A1)[name]
    stub = rel[name]
    ids = course.solution_ids(src[name])

    def wrong(nb, *which):
        for gid in which:
            nb = with_source(nb, gid, WRONG[gid])
        return nb

    students = {
        "control": {name: ok},
        "renamed": {"my work (final).ipynb": ok},
        "extra": {name: ok, "scratch.ipynb": stub},
        "loop": {name: with_source(ok, "quiz_chain_rule", "def dz_dx(x, y):\n    while True:\n        pass\n")},
        "deaf_loop": {name: with_source(ok, "quiz_chain_rule",
                                        "import signal, time\n\ndef dz_dx(x, y):\n"
                                        "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                        "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                        "    while True:\n        try:\n            time.sleep(0.05)\n"
                                        "        except BaseException:\n            pass\n")},
        "exit": {name: with_source(ok, "clip_by_value",
                                   "import os\n\ndef clip_by_value(grads, clip_value):\n    os._exit(0)\n")},
        "segfault": {name: with_source(ok, "clip_by_value",
                                       "import ctypes\n\ndef clip_by_value(grads, clip_value):\n"
                                       "    return ctypes.string_at(0)\n")},
        "memory": {name: with_source(ok, "clip_by_value",
                                     "import numpy as np\n\ndef clip_by_value(grads, clip_value):\n"
                                     "    hog = []\n    while True:\n"
                                     "        hog.append(np.ones(1 << 24))\n")},
        "deleted_tests": {name: without(ok, "test_sigmoid_grad", "test_tanh_grad", "test_quiz_chain_rule")},
        "edited_tests": {name: with_source(wrong(ok, "sigmoid_grad"), "test_sigmoid_grad", "pass")},
        "patch_checker": {name: with_source(with_source(wrong(ok, "clip_by_value"), "quiz_sigmoid_max",
                                                        "sigmoid_max = 0.3\n"),
                                            "sigmoid_grad", PATCH_CHECKER + WRONG["sigmoid_grad"])},
        "patch_numpy": {name: with_source(wrong(ok, "clip_by_value"), "sigmoid_grad",
                                          PATCH_NUMPY + WRONG["sigmoid_grad"])},
        "patch_builtins": {name: with_source(wrong(ok, "sigmoid_grad"), "sigmoid_grad",
                                             PATCH_BUILTINS + WRONG["sigmoid_grad"])},
        "patch_sys_modules": {name: with_source(wrong(ok, "clip_by_value"), "sigmoid_grad",
                                                PATCH_SYS_MODULES + WRONG["sigmoid_grad"])},
        "patch_during_check": {name: with_source(ok, "sigmoid_grad",
                                                 "import autograder.checks._core as core\n\n"
                                                 "def sigmoid_grad(x):\n"
                                                 "    core.assert_close = lambda *a, **k: None\n"
                                                 "    return x\n")},
        "spy": {name: with_source(stub, ids[0], _spy(port, cdir))},
        "uses_reference": {name: with_source(ok, "clip_by_value",
                                             "import importlib\n"
                                             "ref = importlib.import_module('autograder.reference.vanishing_gradients')\n"
                                             "clip_by_value = ref.clip_by_value\n")},
    }
    for student, nbs in students.items():
        submit(cdir, student, A1, nbs)
    submit(cdir, "malformed", A1, {}, raw={name: '{"cells": [ {"cell_type": "code", '})
    submit(cdir, "missing", A1, {}, raw={"notes.txt": "I could not finish"})
    link_dir = cdir / "submitted" / "control" / A1
    os.symlink("/etc/shadow", link_dir / "data.txt")
    proc = grade(cdir, "--jobs", "2", "--timeout", TIMEOUT, "--memory", "700")
    listener.close()
    scores, totals = gradebook_scores(cdir)
    points = auto_points(A1)
    return {"dir": cdir, "out": proc.stdout, "scores": scores, "totals": totals, "points": points,
            "full": sum(points.values())}


def _cells(h, student):
    return {g: h["scores"][(A1, student, g)] for g in h["points"]}


def _line(h, student):
    lines = [ln for ln in h["out"].splitlines() if ln.strip().startswith(f"{student} {A1}:")]
    assert lines, f"no summary line for {student}:\n{h['out']}"
    return lines[0]


def test_hostile_control_student_unaffected(hostile):
    assert _cells(hostile, "control") == hostile["points"]
    assert "ignored the link data.txt" in _line(hostile, "control")
    assert not list((hostile["dir"] / "autograded" / "control" / A1).glob("data.txt"))


def test_hostile_everyone_is_in_the_gradebook(hostile):
    students = {"control", "renamed", "extra", "loop", "deaf_loop", "exit", "segfault", "memory",
                "deleted_tests", "edited_tests", "patch_checker", "patch_numpy", "patch_builtins",
                "patch_sys_modules", "patch_during_check", "spy", "malformed", "missing", "uses_reference"}
    assert {s for (a, s) in hostile["totals"] if a == A1} == students
    for s in students:
        assert all((A1, s, g) in hostile["scores"] for g in hostile["points"]), s
        assert (hostile["dir"] / "feedback" / s / A1 / f"{A1}.html").exists(), s
    table = {r["student"]: r for r in csv.DictReader(open(hostile["dir"] / "grades.csv"))}
    assert set(table) >= students
    assert float(table["control"]["score"]) == hostile["full"]


def test_hostile_using_the_reference_is_flagged(hostile):
    # The reference module is installed with the checks; a notebook that calls it earns the points
    # (the functions are correct), and the instructor is told to look.
    assert _cells(hostile, "uses_reference") == hostile["points"]
    line = _line(hostile, "uses_reference")
    assert "uses the autograder package in its own code (clip_by_value)" in line
    assert "autograder package" not in _line(hostile, "control")


def test_hostile_malformed_notebook(hostile):
    assert set(_cells(hostile, "malformed").values()) == {0.0}
    line = _line(hostile, "malformed")
    assert "not a readable notebook" in line and "graded as blank" in line


def test_hostile_missing_notebook(hostile):
    assert set(_cells(hostile, "missing").values()) == {0.0}
    assert f"{A1}.ipynb is missing" in _line(hostile, "missing")


def test_hostile_renamed_notebook(hostile):
    assert _cells(hostile, "renamed") == hostile["points"]
    assert "renamed" in _line(hostile, "renamed")


def test_hostile_extra_notebook(hostile):
    assert _cells(hostile, "extra") == hostile["points"]
    assert "extra notebook scratch.ipynb ignored" in _line(hostile, "extra")


def test_hostile_infinite_loop(hostile):
    got = _cells(hostile, "loop")
    assert got["test_quiz_chain_rule"] == 0
    assert {g: v for g, v in got.items() if g != "test_quiz_chain_rule"} == \
        {g: v for g, v in hostile["points"].items() if g != "test_quiz_chain_rule"}
    assert "time limit: test_quiz_chain_rule" in _line(hostile, "loop")
    out = autograded_cell(hostile["dir"], A1, "loop", "test_quiz_chain_rule").outputs
    assert any(o.get("ename") == "CellTimeoutError" for o in out)


def test_hostile_loop_ignoring_the_interrupt(hostile):
    got = _cells(hostile, "deaf_loop")
    assert got["test_quiz_chain_rule"] == 0
    assert {g: v for g, v in got.items() if g != "test_quiz_chain_rule"} == \
        {g: v for g, v in hostile["points"].items() if g != "test_quiz_chain_rule"}


ORDER = ["test_sigmoid_grad", "test_tanh_grad", "test_relu_grad", "test_mlp_grad_norms", "test_clip_by_value",
         "test_clip_by_global_norm", "test_quiz_sigmoid_max", "test_quiz_chain_rule"]


def _died_at(h, student, at):
    got = _cells(h, student)
    before = ORDER[:ORDER.index(at)]
    assert all(got[g] == h["points"][g] for g in before), got
    assert all(got[g] == 0 for g in ORDER[ORDER.index(at):]), got  # never "passed" after a death
    cell = autograded_cell(h["dir"], A1, student, ORDER[-1])
    assert any(o.get("ename") == "KernelDied" for o in cell.outputs)


def test_hostile_os_exit(hostile):
    _died_at(hostile, "exit", "test_clip_by_value")
    assert "process died" in _line(hostile, "exit")


def test_hostile_segfault(hostile):
    _died_at(hostile, "segfault", "test_clip_by_value")
    assert "segmentation fault" in _line(hostile, "segfault")


def test_hostile_memory_blowup(hostile):
    got = _cells(hostile, "memory")
    assert got["test_clip_by_value"] == 0
    assert all(got[g] == hostile["points"][g] for g in ORDER[:ORDER.index("test_clip_by_value")])
    # killed by the cgroup limit: the rest scores 0; with rlimits only, a MemoryError fails that one test
    if "process died" in _line(hostile, "memory"):
        _died_at(hostile, "memory", "test_clip_by_value")


def test_hostile_deleted_test_cells_are_restored(hostile):
    assert _cells(hostile, "deleted_tests") == hostile["points"]
    cell = autograded_cell(hostile["dir"], A1, "deleted_tests", "test_tanh_grad")
    assert "check_tanh_grad(tanh_grad)" in cell.source


def test_hostile_edited_test_cells_are_restored(hostile):
    got = _cells(hostile, "edited_tests")
    assert got["test_sigmoid_grad"] == 0
    assert "check_sigmoid_grad" in autograded_cell(hostile["dir"], A1, "edited_tests", "test_sigmoid_grad").source


def _honest(h, student, wrong_tests, extra_zero=()):
    got = _cells(h, student)
    for g, pts in h["points"].items():
        want = 0.0 if g in wrong_tests or g in extra_zero else pts
        assert got[g] == want, (student, g, got)
    assert "tampering" in _line(h, student)


def test_hostile_monkeypatched_checker(hostile):
    # wrong sigmoid_grad and clip_by_value, sigmoid_max = 0.3 (wrong): the honest checks fail all three;
    # mlp_grad_norms uses the wrong sigmoid_grad only for "sigmoid" cases, so it fails too
    _honest(hostile, "patch_checker", {"test_sigmoid_grad", "test_clip_by_value", "test_quiz_sigmoid_max",
                                       "test_mlp_grad_norms"})
    assert "autograder.checks._core.assert_close" in _line(hostile, "patch_checker")


def test_hostile_monkeypatched_numpy(hostile):
    _honest(hostile, "patch_numpy", {"test_sigmoid_grad", "test_clip_by_value", "test_mlp_grad_norms"})
    assert "numpy.allclose" in _line(hostile, "patch_numpy")


def test_hostile_monkeypatched_builtins(hostile):
    _honest(hostile, "patch_builtins", {"test_sigmoid_grad", "test_mlp_grad_norms"})
    assert "builtins.enumerate" in _line(hostile, "patch_builtins")


def test_hostile_checker_replaced_in_sys_modules(hostile):
    _honest(hostile, "patch_sys_modules", {"test_sigmoid_grad", "test_mlp_grad_norms", "test_clip_by_value"})
    assert "sys.modules" in _line(hostile, "patch_sys_modules")


def test_hostile_patching_while_being_checked(hostile):
    got = _cells(hostile, "patch_during_check")
    assert got["test_sigmoid_grad"] == 0
    assert "changed the grader while being checked: test_sigmoid_grad" in _line(hostile, "patch_during_check")
    out = autograded_cell(hostile["dir"], A1, "patch_during_check", "test_sigmoid_grad").outputs
    assert any(o.get("ename") == "TamperingDetected" for o in out)


def _attempts(h):
    cell = autograded_cell(h["dir"], A1, "spy", course.solution_ids(sources(A1)[f"{A1}.ipynb"])[0])
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    m = re.search(r"ATTEMPTS(\{.*\})", text)
    assert m, cell.outputs
    return json.loads(m.group(1))


def test_hostile_reading_solutions_and_gradebook_is_denied(hostile):
    tried = _attempts(hostile)
    assert tried["read_solutions"] != "ok" and tried["read_gradebook"] != "ok" and tried["list_course"] != "ok"
    assert set(_cells(hostile, "spy").values()) == {0.0}  # it would have full marks had it read them


def test_hostile_writing_outside_its_copy_is_denied(hostile):
    tried = _attempts(hostile)
    for what in ("write_course", "write_repo", "write_submission"):
        assert tried[what] != "ok", tried
    assert not (hostile["dir"] / "pwned.txt").exists()
    assert not (ROOT / "pwned.txt").exists()
    assert not (hostile["dir"] / "submitted" / "spy" / A1 / "pwned.txt").exists()


def test_hostile_no_network(hostile):
    tried = _attempts(hostile)
    assert tried["network_host"] != "ok" and tried["network_out"] != "ok", tried


def test_feedback_hides_hidden_tests(hostile):
    import html
    page = (hostile["dir"] / "feedback" / "control" / A1 / f"{A1}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "check_sigmoid_grad(sigmoid_grad, visible_only=True)" in text
    assert "BEGIN HIDDEN TESTS" not in text and "check_sigmoid_grad(sigmoid_grad)\n" not in text


# ================================================================ re-runs, one student, manual grades
def test_rerun_is_idempotent_and_keeps_manual_grades(bwrap, template, tmp_path):
    cdir = copy_course(template, tmp_path / "course")
    name = f"{A1}.ipynb"
    submit(cdir, "alice", A1, filled(cdir, A1))
    half = course.solution_ids(sources(A1)[name])
    submit(cdir, "bob", A1, filled(cdir, A1, keep_stub=set(half[len(half) // 2:])))
    first = grade(cdir, "--jobs", "2", A1)
    assert "grading 2 submission(s)" in first.stdout
    csv1 = (cdir / "grades.csv").read_text()
    second = grade(cdir, A1)
    assert "grading 0 submission(s)" in second.stdout and "2 submissions unchanged" in second.stdout
    assert (cdir / "grades.csv").read_text() == csv1

    from nbgrader.api import Gradebook
    gb = Gradebook(f"sqlite:///{cdir / 'gradebook.db'}", COURSE_ID)
    try:
        grade_row = gb.find_grade("written_vanishing", A1, A1, "alice")
        grade_row.manual_score = 2.5
        gb.db.commit()
        before = gb.find_submission(A1, "alice").score
    finally:
        gb.close()
    third = grade(cdir, "--force", "--student", "alice", A1)
    assert "grading 1 submission(s)" in third.stdout
    gb = Gradebook(f"sqlite:///{cdir / 'gradebook.db'}", COURSE_ID)
    try:
        assert gb.find_grade("written_vanishing", A1, A1, "alice").manual_score == 2.5
        assert gb.find_submission(A1, "alice").score == before
    finally:
        gb.close()
    rows = {r["student"]: r for r in csv.DictReader(open(cdir / "grades.csv"))}
    assert float(rows["alice"]["score"]) == sum(auto_points(A1).values()) + 2.5


def test_import_torch_never_counts_against_the_cell_time_limit(bwrap, template, tmp_path):
    """A notebook that imports torch, graded with a 2-second cell limit while another job runs:
    correct work keeps every point (the box imports torch before any cell's clock starts)."""
    cdir = copy_course(template, tmp_path / "course")
    name = f"{A1}.ipynb"
    nbs = filled(cdir, A1)
    first = course.solution_ids(sources(A1)[name])[0]
    cell = next(c for c in nbs[name].cells if course.nbgrader_meta(c).get("grade_id") == first)
    nbs[name] = with_source(nbs[name], first, "import torch\nimport torch.nn.functional as F\n" + cell.source)
    submit(cdir, "torch_user", A1, nbs)
    submit(cdir, "other", A1, filled(cdir, A1))
    grade(cdir, "--jobs", "2", "--timeout", "2", A1)
    scores, _ = gradebook_scores(cdir)
    assert {g: scores[(A1, "torch_user", g)] for g in auto_points(A1)} == auto_points(A1)
    timing = state(cdir, A1, "torch_user")["notebooks"][A1]["timing"]
    print(f"import of torch, numpy, matplotlib and the checks under 2 jobs: {timing['preimport']} s")


# ================================================================ PostgreSQL gradebook
def test_postgresql_gradebook(bwrap, postgres, template, tmp_path):
    cdir = copy_course(template, tmp_path / "course")
    (cdir / "gradebook.db").unlink()  # everything goes to PostgreSQL, assignments included
    name = f"{A1}.ipynb"
    ids = course.solution_ids(sources(A1)[name])
    submit(cdir, "alice", A1, filled(cdir, A1))
    submit(cdir, "bob", A1, filled(cdir, A1, keep_stub=set(ids[len(ids) // 2:])))
    submit(cdir, "carol", A1, {name: released(cdir, A1)[name]})
    out = grade(cdir, "--jobs", "2", "--db", postgres, A1)
    assert not (cdir / "gradebook.db").exists()
    _, totals = gradebook_scores(cdir, db_url=postgres)
    full = sum(auto_points(A1).values())
    assert totals[(A1, "alice")] == full and totals[(A1, "carol")] == 0 and 0 < totals[(A1, "bob")] < full, out.stdout
    again = grade(cdir, "--jobs", "2", "--db", postgres, "--force", A1)
    assert gradebook_scores(cdir, db_url=postgres)[1] == totals, again.stdout


# ================================================================ LMS import
def test_collect_files_an_lms_export(template, tmp_path):
    cdir = copy_course(template, tmp_path / "course")
    name = f"{A1}.ipynb"
    good = json.dumps(filled(cdir, A1)[name])
    export = tmp_path / "export"
    (export / "mallory").mkdir(parents=True)
    (export / "smithjane_LATE_1234_987_exercise_one.ipynb").write_text(good)  # Canvas
    (export / "Joe Bloggs_5678_assignsubmission_file_ex1.ipynb").write_text(good)  # Moodle
    (export / "mallory" / "whatever.ipynb").write_text(good)  # a folder per student
    with zipfile.ZipFile(export / "batch.zip", "w") as z:
        z.writestr("batch/zoe_notebook.ipynb", good)
    (export / "kim_broken.ipynb").write_text("{ not json")
    (export / "lee_other.ipynb").write_text(json.dumps(nbformat.v4.new_notebook()))
    (export / "noid.ipynb").write_text(good)
    proc = subprocess.run([sys.executable, "-m", "autograder", "collect", str(export)], cwd=cdir, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # some files could not be placed
    for student in ("1234", "5678", "mallory", "zoe"):
        assert (cdir / "submitted" / student / A1 / name).exists(), proc.stdout
    assert "kim_broken.ipynb: not a readable notebook" in proc.stdout
    assert "lee_other.ipynb: its cells match no notebook" in proc.stdout
    assert "noid.ipynb: no student id" in proc.stdout


def test_grade_says_clearly_when_bubblewrap_is_missing(template, tmp_path):
    cdir = copy_course(template, tmp_path / "course")
    submit(cdir, "alice", A1, filled(cdir, A1))
    env = _env()
    env["PATH"] = str(Path(sys.executable).parent)  # no /usr/bin: no bwrap
    proc = grade(cdir, A1, check=False, env=env)
    assert proc.returncode == 2
    assert "bubblewrap (bwrap) is not installed" in proc.stderr


# ================================================================ the whole exchange cycle
EXCHANGE_INCLUDE = 'c.CourseDirectory.include = ["*.ipynb", "timestamp.txt", "submission_secret.txt"]\n'

def test_exchange_cycle_end_to_end(bwrap, tmp_path):
    """release -> two students fetch (separate homes) -> fill in -> submit -> collect -> grade ->
    generate and release feedback -> students fetch their feedback; nbgrader's real commands."""
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    os.chmod(exchange, 0o777)
    ex = f"--Exchange.root={exchange}"
    # The exchange needs the submission's timestamp and secret to travel with the notebooks (feedback is
    # released under a hash of them); nbgrader_config.py's include = ["*.ipynb"] alone would drop them.
    cdir = make_course(tmp_path / "course", [A1], extra_config=EXCHANGE_INCLUDE)
    nbgrader("release_assignment", A1, ex, cwd=cdir)
    name = f"{A1}.ipynb"
    src = sources(A1)[name]
    ids = course.solution_ids(src)
    homes = {}
    for student, keep in (("alice", ()), ("bob", set(ids[len(ids) // 2:]))):
        home = tmp_path / "home" / student
        home.mkdir(parents=True)
        env = _env(HOME=str(home), USER=student, LOGNAME=student, USERNAME=student, LNAME=student)
        nbgrader("fetch_assignment", A1, f"--course={COURSE_ID}", ex, cwd=home, env=env)
        path = home / A1 / name
        nb = course.fill_in(course.read(path), src, keep_stub=keep)
        nbformat.write(nb, str(path))
        # nbgrader takes the student id from the OS account; two students in one test share one, so
        # each says who it is (as JUPYTERHUB_USER does on a hub)
        nbgrader("submit", A1, f"--course={COURSE_ID}", ex, f"--CourseDirectory.student_id={student}",
                 cwd=home, env=env)
        homes[student] = (home, env)
    nbgrader("collect", A1, ex, cwd=cdir)
    assert {p.name for p in (cdir / "submitted").iterdir()} == {"alice", "bob"}
    grade(cdir, "--no-feedback", A1)
    nbgrader("generate_feedback", A1, cwd=cdir)
    nbgrader("release_feedback", A1, ex, cwd=cdir)
    _, totals = gradebook_scores(cdir)
    full = sum(auto_points(A1).values())
    assert totals[(A1, "alice")] == full and 0 < totals[(A1, "bob")] < full
    for student, (home, env) in homes.items():
        nbgrader("fetch_feedback", A1, f"--course={COURSE_ID}", ex, f"--CourseDirectory.student_id={student}",
                 cwd=home, env=env)
        pages = list((home / A1 / "feedback").glob(f"*/{A1}.html"))
        assert len(pages) == 1, student
        page = pages[0].read_text()
        assert f"{totals[(A1, student)]:g}" in page and "BEGIN HIDDEN TESTS" not in page


def test_split_messages_keeps_the_unfinished_line_and_skips_garbage():
    from autograder.grading.lines import split_messages
    msgs, rest = split_messages(b'{"cell": 1}\nnot json\n[1, 2]\n{"event": "end"}\n{"cel')
    assert msgs == [{"cell": 1}, {"event": "end"}] and rest == b'{"cel'
    msgs, rest = split_messages(rest + b'l": 2}\n')
    assert msgs == [{"cell": 2}] and rest == b""
