"""What a grading run hands back: grades.csv, a histogram per assignment, a summary in the terminal.

Scores always come from nbgrader's gradebook (the one source of truth); the per-submission notes
(staging repairs, kernel deaths, timeouts, tampering flags) come from the run's state files.

``PerQuestionExportPlugin`` is an nbgrader export plugin, so the same CSV is also available as::

    nbgrader export --exporter=autograder.grading.report.PerQuestionExportPlugin
"""
import csv
import statistics
from collections import Counter, defaultdict
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin

FIXED = ["student", "assignment", "score", "max", "raw_score", "late_penalty", "pending_manual"]


def rows(gb, assignments=None, students=None):
    """One row per (student, assignment): totals and the points of every graded cell (empty while a
    written answer waits for manual grading)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush chatter about nbgrader's lazy relations
        return _rows(gb, assignments, students)


def _rows(gb, assignments, students):
    out, questions = [], {}
    for assignment in gb.assignments:
        if assignments and assignment.name not in assignments:
            continue
        cols = []
        for nb in assignment.notebooks:
            cols += [f"{assignment.name}:{c.name}" for c in nb.grade_cells]
        questions[assignment.name] = cols
        for student in gb.students:
            if students and student.id not in students:
                continue
            row = {"student": student.id, "assignment": assignment.name, "max": assignment.max_score}
            try:
                sub = gb.find_submission(assignment.name, student.id)
            except MissingEntry:
                row.update(score=0.0, raw_score=0.0, late_penalty=0.0, pending_manual=0, submitted=False)
                out.append(row)
                continue
            pending = 0
            for nb in sub.notebooks:
                for g in nb.grades:
                    waiting = g.needs_manual_grade and g.manual_score is None
                    row[f"{assignment.name}:{g.name}"] = "" if (g.score is None or waiting) else g.score
                    if g.needs_manual_grade:
                        pending += 1
            raw = sub.score or 0.0
            penalty = sub.late_submission_penalty or 0.0
            row.update(score=max(0.0, raw - penalty), raw_score=raw, late_penalty=penalty,
                       pending_manual=pending, submitted=True)
            out.append(row)
    return out, questions


def write_csv(path, table, questions):
    cols = FIXED + [q for a in sorted(questions) for q in questions[a]]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in sorted(table, key=lambda r: (r["assignment"], r["student"])):
            w.writerow({k: _fmt(v) for k, v in r.items()})


def _fmt(v):
    if isinstance(v, float):
        return f"{v:g}"
    return v


class PerQuestionExportPlugin(ExportPlugin):
    """grades.csv with one column per graded cell (``assignment:grade_id``)."""

    def export(self, gradebook):
        table, questions = rows(gradebook, self.assignment or None, self.student or None)
        write_csv(self.to or "grades.csv", table, questions)


def histograms(table, out_dir):
    """One PNG per assignment: the distribution of scores of those who submitted."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = []
    by = defaultdict(list)
    maxes = {}
    for r in table:
        if r.get("submitted"):
            by[r["assignment"]].append(r["score"])
            maxes[r["assignment"]] = r["max"]
    for a, scores in sorted(by.items()):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        top = maxes[a] or max(scores) or 1
        ax.hist(scores, bins=min(20, max(5, int(top) + 1)), range=(0, top), color="#4c72b0", edgecolor="white")
        ax.set_xlabel(f"score (out of {top:g})")
        ax.set_ylabel("students")
        ax.set_title(f"{a}: {len(scores)} submissions, median {statistics.median(scores):g}")
        fig.tight_layout()
        p = Path(out_dir) / f"grades-{a}.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        paths.append(p)
    return paths


def _short(name):
    return name.split(":", 1)[-1]


def summary(table, questions, results, skipped=()):
    """The terminal summary: per assignment count, mean, median, failures by question; then one line
    per student whose grading hit a problem."""
    lines = []
    by = defaultdict(list)
    for r in table:
        if r.get("submitted"):
            by[r["assignment"]].append(r)
    for a in sorted(by):
        rs = by[a]
        scores = [r["score"] for r in rs]
        top = rs[0]["max"]
        lines.append(f"{a}: {len(rs)} submissions, mean {statistics.fmean(scores):.2f}, "
                     f"median {statistics.median(scores):g} (max {top:g})")
        fails = Counter()
        for r in rs:
            for q in questions.get(a, []):
                v = r.get(q)
                if v == "" or v is None:
                    continue
                if float(v) <= 0:
                    fails[q] += 1
        if fails:
            lines.append("  failures by question: " + ", ".join(f"{_short(q)} {n}" for q, n in
                                                                  sorted(fails.items(), key=lambda kv: -kv[1])))
        pending = sum(r.get("pending_manual", 0) for r in rs)
        if pending:
            lines.append(f"  {pending} answers wait for manual grading (formgrader)")
    problems = [p for p in (problem_line(r) for r in results) if p]
    if problems:
        lines.append(f"problems ({len(problems)}):")
        lines += ["  " + p for p in problems]
    if skipped:
        lines.append(f"{len(skipped)} submissions unchanged since the last run were not regraded "
                     "(use --force to regrade everything)")
    return "\n".join(lines)


def problem_line(result):
    """One line saying what went wrong for this submission, or None."""
    bits = list(result.get("notes", []))
    for nbname, rec in sorted(result.get("notebooks", {}).items()):
        tests = rec.get("tests", {})
        timeouts = [g for g, t in tests.items() if t["status"] == "timeout"]
        died = [g for g, t in tests.items() if t["status"] == "died"]
        missing = [g for g, t in tests.items() if t["status"] == "missing"]
        if timeouts:
            bits.append("time limit: " + ", ".join(timeouts))
        if died:
            why = next((t.get("detail") for t in tests.values() if t["status"] == "died" and t.get("detail")), "")
            bits.append(f"process died ({why or 'no reason given'}): " + ", ".join(died) + " scored 0")
        if missing:
            bits.append("not re-checked: " + ", ".join(missing))
        flags = rec.get("flags", [])
        rebound = sorted({r.replace(" rebound", "") for f in flags for r in f.get("rebound", [])})
        tampered = [f["cell"] for f in flags if f["status"] == "tampered"]
        if rebound:
            bits.append("tampering: the notebook rebinds " + ", ".join(rebound[:4])
                        + (" ..." if len(rebound) > 4 else "") + " (undone before every test)")
        own = [f["cell"] for f in flags if f["status"] == "uses_package"]
        if own:
            bits.append("uses the autograder package in its own code (" + "; ".join(own)
                        + "): read it, the package holds the reference solutions")
        if tampered:
            bits.append("changed the grader while being checked: " + ", ".join(tampered) + " scored 0")
        errors = [g for g, t in tests.items() if t["status"] == "error"]
        if errors:
            bits.append("grader error in " + ", ".join(errors))
        for e in rec.get("events", []):
            if e.get("event") == "incomplete":
                bits.append(e.get("detail", "run incomplete"))
            elif e.get("event") == "preimport" and e.get("failed"):
                bits.append("could not import " + "; ".join(e["failed"])[:150])
    if result.get("error") and not any("could not grade" in b for b in bits):
        bits.append("error: " + result["error"])
    if not bits:
        return None
    return f"{result['student']} {result['assignment']}: " + "; ".join(bits)


def _pts(v):
    return "-" if v is None else f"{v:g}"
