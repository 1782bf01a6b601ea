"""Benchmark: sequential ``nbgrader autograde`` against ``python -m autograder grade`` on one synthetic class.

    .venv/bin/python bench/grading_bench.py [--students 40] [--jobs N] [--keep DIR]

Builds a throwaway course whose source is the repository's solutions/ (every assignment that exists),
makes a class of synthetic students with :func:`autograder.course.fill_in` -- a mix of correct,
partly wrong (some answers left as stubs, some deliberately wrong) and broken notebooks (a syntax
error, a function that raises, a cell that fails at import) -- and grades the same submissions twice,
each into its own gradebook:

1. ``nbgrader autograde ASSIGNMENT`` for every assignment, one after the other (plain nbgrader);
2. ``python -m autograder grade --jobs N`` (sandboxed, with the honest re-check, feedback included).

It checks that every cell's score is identical in the two gradebooks and prints both wall times and
their ratio (target on 2 cores: <= 0.6). Exit status 1 when the scores differ.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import course  # noqa: E402


def nbgrader_env():
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def make_course(folder):
    config = (ROOT / "nbgrader_config.py").read_text()
    config += (f"\nc.CourseDirectory.source_directory = {str(ROOT / 'solutions')!r}\n"
               "c.CourseDirectory.release_directory = 'release'\n")
    (folder / "nbgrader_config.py").write_text(config)


def _break(source, how):
    if how == "syntax":
        return source + "\n    return ((\n"
    if how == "raise":
        return source + "\n\nraise RuntimeError('a cell that fails')\n"
    return source


def _wrong(source):
    """A plausible wrong answer: the function returns something of the right kind, but wrong."""
    lines = source.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped.startswith("return ") and not stripped.startswith("return None"):
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines[i] = f"{indent}_r = {stripped[len('return '):]}\n{indent}return _wrong_answer(_r)"
            return ("import numpy as _np\n\ndef _wrong_answer(r):\n"
                    "    try:\n        return _np.asarray(r, dtype=float) * 1.5 + 0.1\n"
                    "    except Exception:\n        return r\n\n" + "\n".join(lines))
    return source


def synthetic_submission(release, source, kind, rnd):
    ids = course.solution_ids(source)
    if kind == "correct":
        return course.fill_in(release, source)
    if kind == "untouched":
        return release
    if kind == "partial":
        keep = set(rnd.sample(ids, k=max(1, len(ids) // 3)))
        nb = course.fill_in(release, source, keep_stub=keep)
        for cell in nb.cells:
            gid = course.nbgrader_meta(cell).get("grade_id")
            if course.is_solution(cell) and gid not in keep and rnd.random() < 0.3:
                cell.source = _wrong(cell.source)
        return nb
    # broken: one cell with a syntax error, one that raises after defining its function
    nb = course.fill_in(release, source)
    code = [c for c in nb.cells if course.is_solution(c) and c.cell_type == "code"]
    picked = rnd.sample(code, k=min(2, len(code)))
    for cell, how in zip(picked, ("syntax", "raise")):
        cell.source = _break(cell.source, how)
    return nb


def build_class(folder, students, assignments, seed=0):
    rnd = random.Random(seed)
    kinds = ["correct", "partial", "broken", "partial", "correct", "untouched", "partial", "broken"]
    for a in assignments:
        for i in range(students):
            kind = kinds[i % len(kinds)]
            dest = folder / "submitted" / f"student{i:03d}" / a
            dest.mkdir(parents=True, exist_ok=True)
            for src_path in course.notebooks(a):
                src = course.read(src_path)
                rel = course.read(folder / "release" / a / src_path.name)
                nbformat.write(synthetic_submission(rel, src, kind, rnd), str(dest / src_path.name))
            (dest / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")


def _children_cpu():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd, cwd, what):
    """Run a command; return (wall seconds, process)."""
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=nbgrader_env(), capture_output=True, text=True)
    dt = time.monotonic() - t0
    if proc.returncode != 0:
        print(f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}", file=sys.stderr)
    return dt, proc


def box_cpu(folder):
    """CPU seconds the sandboxes reported (their processes' time is not seen by getrusage)."""
    import json
    total = 0.0
    for p in (folder / "autograded" / ".autograder").glob("*/*.json"):
        for rec in json.loads(p.read_text()).get("notebooks", {}).values():
            total += (rec.get("timing") or {}).get("box_cpu") or 0.0
    return total


def _steal():
    """CPU seconds the hypervisor gave to other guests (``steal`` in /proc/stat), summed over the cores.

    On a shared virtual machine this is time the benchmark waited without being charged for it; it is
    printed for each phase so that a ratio measured on a busy host can be told from a real one."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _steal_note(seconds, wall):
    cores = len(os.sched_getaffinity(0))
    share = seconds / (wall * cores) if wall else float("nan")
    warn = "  << the host was busy: this phase's wall time is inflated" if share > 0.05 else ""
    return f"steal {seconds:.0f} s ({100 * share:.0f} % of {cores} cores){warn}"


def _load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def scores(folder):
    from nbgrader.api import Gradebook
    out = {}
    gb = Gradebook(f"sqlite:///{folder / 'gradebook.db'}", "training-deep-networks")
    try:
        for a in gb.assignments:
            for sub in a.submissions:
                for nb in sub.notebooks:
                    for g in nb.grades:
                        out[(a.name, sub.student.id, nb.name, g.name)] = g.auto_score
    finally:
        gb.close()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=0, help="jobs for the new command (default: cores)")
    ap.add_argument("--keep", default=None, help="keep the two course folders under this directory")
    args = ap.parse_args(argv)
    assignments = course.assignments()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="grading-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    seq, par = base / "sequential", base / "parallel"
    for d in (seq, par):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
    try:
        make_course(seq)
        for a in list(assignments):
            _, proc = run([sys.executable, "-m", "nbgrader", "generate_assignment", a, "--force"], seq,
                          f"generate_assignment {a}")
            if proc.returncode:  # a chapter still being written: benchmark the others
                print(f"{a}: nbgrader generate_assignment failed; left out")
                assignments.remove(a)
        if not assignments:
            return 2
        build_class(seq, args.students, assignments)
        shutil.copytree(seq, par, dirs_exist_ok=True)
        n = args.students * len(assignments)
        print(f"{args.students} students x {len(assignments)} assignments ({', '.join(assignments)}) "
              f"= {n} submissions; {os.cpu_count()} cores visible, affinity {len(os.sched_getaffinity(0))}")

        t_seq, c0, l0, s0 = 0.0, _children_cpu(), _load(), _steal()
        for a in assignments:
            dt, proc = run([sys.executable, "-m", "nbgrader", "autograde", a], seq, f"nbgrader autograde {a}")
            t_seq += dt
        cpu_seq = _children_cpu() - c0
        print(f"sequential nbgrader autograde: {t_seq:.1f} s wall, {cpu_seq:.0f} s CPU "
              f"(load average before/after: {l0:.1f}/{_load():.1f}; {_steal_note(_steal() - s0, t_seq)})")

        cmd = [sys.executable, "-m", "autograder", "grade", "--quiet", *assignments]
        if args.jobs:
            cmd += ["--jobs", str(args.jobs)]
        c0, l0, s0 = _children_cpu(), _load(), _steal()
        t_par, proc = run(cmd, par, "python -m autograder grade")
        cpu_par = _children_cpu() - c0 + box_cpu(par)  # bwrap does not pass its children's CPU time up
        print(f"python -m autograder grade{' --jobs ' + str(args.jobs) if args.jobs else ''}: {t_par:.1f} s wall, "
              f"{cpu_par:.0f} s CPU (load average before/after: {l0:.1f}/{_load():.1f}; "
              f"{_steal_note(_steal() - s0, t_par)}; sandbox, honest re-check and feedback included)")
        if proc.returncode not in (0, 1):
            return 2

        a_scores, b_scores = scores(seq), scores(par)
        diff = {k: (a_scores.get(k), b_scores.get(k)) for k in set(a_scores) | set(b_scores)
                if a_scores.get(k) != b_scores.get(k)}
        print(f"cells compared: {len(a_scores)}; differences: {len(diff)}")
        for k, (x, y) in sorted(diff.items(), key=str)[:20]:
            print(f"  {k}: nbgrader {x} vs autograder {y}")
        ratio = t_par / t_seq if t_seq else float("nan")
        print(f"ratio (new / sequential): {ratio:.2f} wall  (target <= 0.6 on 2 cores), "
              f"{cpu_par / cpu_seq if cpu_seq else float('nan'):.2f} CPU")
        return 1 if diff else 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
