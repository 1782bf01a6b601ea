"""``python -m autograder grade|collect`` -- the instructor's commands (run in the course root)."""
import argparse
import sys
from pathlib import Path

USAGE = """\
python -m autograder grade [ASSIGNMENT ...] [--jobs N] [--timeout S] [--memory MB] [--db URL]
                           [--student ID ...] [--force] [--no-feedback] [--out DIR] [--root DIR]
python -m autograder collect DIR [--assignment A] [--pattern REGEX] [--dry-run] [--root DIR]
"""


def _grade_parser(sub):
    p = sub.add_parser("grade", prog="python -m autograder grade", help="autograde submitted/ in parallel, in a sandbox, with an honest re-check",
                       description="Autograde nbgrader's submitted/<student>/<assignment>/ in parallel: "
                                   "every notebook runs in a bubblewrap sandbox and every test cell is "
                                   "re-checked from a clean state. Writes autograded/, the gradebook, "
                                   "feedback/ (hidden tests removed), grades.csv and a histogram per "
                                   "assignment, and prints a summary.")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="assignments to grade (default: every assignment with submissions)")
    p.add_argument("--jobs", "-j", type=int, default=0,
                   help="submissions graded at once (default: the number of cores; more than that only "
                        "makes each slower)")
    p.add_argument("--timeout", type=float, default=0,
                   help="seconds per cell (default: ExecutePreprocessor.timeout of nbgrader_config.py, else 120); "
                        "imports of numpy/torch/matplotlib happen before the clock starts")
    p.add_argument("--memory", type=int, default=2048, metavar="MB", help="memory per notebook (default 2048)")
    p.add_argument("--db", default="", metavar="URL",
                   help="gradebook URL, e.g. postgresql://user@host/course (default: the course's, "
                        "sqlite:///gradebook.db)")
    p.add_argument("--student", action="append", default=[], metavar="ID",
                   help="regrade only this student (repeatable); always regrades")
    p.add_argument("--force", action="store_true", help="regrade submissions that did not change")
    p.add_argument("--no-feedback", action="store_true", help="do not generate feedback HTML")
    p.add_argument("--out", default=None, metavar="DIR", help="where grades.csv and the PNGs go (default: course root)")
    p.add_argument("--root", default=".", metavar="DIR", help="course root (default: the current folder)")
    p.add_argument("--hide", action="append", default=[], metavar="PATH",
                   help="another folder student code must not see (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _collect_parser(sub):
    p = sub.add_parser("collect", prog="python -m autograder collect", help="file an LMS export (one notebook per student) under submitted/",
                       description="File every notebook found in DIR (and in .zip files in it) under "
                                   "submitted/<student>/<assignment>/<notebook>.ipynb: the assignment and "
                                   "notebook are recognised from the notebook's cells, the student from the "
                                   "file or folder name. Prints what it could not place.")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--assignment", default=None, help="only accept notebooks of this assignment")
    p.add_argument("--pattern", action="append", default=[], metavar="REGEX",
                   help="regular expression with a (?P<student_id>...) group, matched against each file's "
                        "path relative to DIR (repeatable; tried before the built-in Canvas, Moodle and "
                        "'<student>/<file>' patterns)")
    p.add_argument("--dry-run", action="store_true", help="only say where each file would go")
    p.add_argument("--overwrite", action="store_true", help="replace a different notebook already filed")
    p.add_argument("--root", default=".", metavar="DIR", help="course root (default: the current folder)")
    return p


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", usage=USAGE,
                                     description="Grading tools for the course (built on nbgrader).")
    sub = parser.add_subparsers(dest="command", required=True)
    _grade_parser(sub)
    _collect_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "grade":
        return grade(args)
    return collect(args)


def grade(args):
    from .pipeline import GradingRun, Options
    from .sandbox import SandboxUnavailable
    from . import report
    root = Path(args.root).resolve()
    if not (root / "nbgrader_config.py").exists():
        print(f"warning: no nbgrader_config.py in {root}; using nbgrader's defaults", file=sys.stderr)
    opts = Options(root=root, assignments=args.assignments, students=args.student, jobs=args.jobs,
                   timeout=args.timeout, memory_mb=args.memory, db_url=args.db, force=args.force,
                   feedback=not args.no_feedback, out=Path(args.out) if args.out else root,
                   progress=not args.quiet and sys.stderr.isatty(), hide=args.hide)
    run = GradingRun(opts)
    try:
        assignments, results, skipped = run.run(log=lambda m: print(m, flush=True))
    except SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .pipeline import gradebook
    with gradebook(run.db_url, run.course_id) as gb:
        table, questions = report.rows(gb, assignments)
    # Submissions not regraded this time still belong in the summary: take their notes from the state.
    all_results = list(results)
    for a, s in skipped:
        st = run._load_state(a, s)
        if st:
            all_results.append(st)
    opts.out.mkdir(parents=True, exist_ok=True)
    csv_path = opts.out / "grades.csv"
    report.write_csv(csv_path, table, questions)
    pngs = report.histograms(table, opts.out)
    print(report.summary(table, questions, sorted(all_results, key=lambda r: (r["assignment"], r["student"])),
                         skipped))
    print(f"wrote {csv_path}, " + ", ".join(str(p) for p in pngs) +
          (f"; feedback in {run._paths('feedback')}" if opts.feedback else "") +
          f" ({run.elapsed:.1f} s)")
    return 1 if any(r.get("failed") for r in results) else 0


def collect(args):
    from .collect import collect as run_collect
    return run_collect(Path(args.directory), root=Path(args.root).resolve(), assignment=args.assignment,
                       patterns=args.pattern, dry_run=args.dry_run, overwrite=args.overwrite)
