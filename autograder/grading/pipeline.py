"""One grading run: stage the submissions, autograde them in parallel with nbgrader, report.

Per (assignment, student), in a worker process:

1. **stage** ``submitted/<student>/<assignment>/`` into a private copy: regular files only (a
   symbolic link could point at the instructor's files), every notebook parsed; a notebook that is not
   valid JSON, or missing, is replaced by the blank release notebook with a banner saying why (it
   scores 0 and the student's feedback says why); a renamed notebook is recognised by its cells' ids
   and graded under its real name; extra notebooks are ignored (and reported);
2. run nbgrader's own ``Autograde`` converter on the staged copy, with ``Execute`` replaced by
   :class:`.execute.SandboxedExecute` and deleted test cells put back from the gradebook;
3. run nbgrader's ``GenerateFeedback`` with the hidden tests cleared.

Gradebook writes: nbgrader opens a ``Gradebook`` for each short step; with SQLite every such session
holds an exclusive file lock (so parallel workers' writes are serialised, never interleaved), with
PostgreSQL the database does the locking. Students are created up front, serially. If nbgrader still
fails on a submission, it is graded again as blank notebooks with the reason in a banner, so every
submission ends up in the gradebook.
"""
import contextlib
import fcntl
import hashlib
import io
import json
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

VERSION = "1"  # bump when grading changes, so that a re-run regrades everything
STATE_DIR = ".autograder"  # under autograded/: one JSON per graded submission (nbgrader's globs skip it)


@dataclass
class Options:
    root: Path
    assignments: list = field(default_factory=list)
    students: list = field(default_factory=list)
    jobs: int = 0
    timeout: float = 0.0
    memory_mb: int = 2048
    db_url: str = ""
    force: bool = False
    feedback: bool = True
    out: Path = None
    progress: bool = True
    hide: list = field(default_factory=list)


@dataclass
class Task:
    assignment: str
    student: str
    digest: str  # of the submission as it was when the run started (saved with its result)
    weight: float  # expected cost: the last grading time, else the size of the assignment's source


# ================================================================ configuration
def course_config(root, db_url):
    """The course's nbgrader configuration (nbgrader_config.py in the course root) plus our overrides."""
    from traitlets.config import Config, PyFileConfigLoader
    cfg = Config()
    path = Path(root) / "nbgrader_config.py"
    if path.exists():
        loader = PyFileConfigLoader(path.name, str(path.parent))
        cfg.merge(loader.load_config())
    cfg.CourseDirectory.root = str(root)
    if db_url:
        cfg.CourseDirectory.db_url = db_url
    if cfg.CourseDirectory.get("db_url"):
        cfg.CourseDirectory.db_url = normalize_db_url(cfg.CourseDirectory.db_url)
    return cfg


def normalize_db_url(url):
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; the course pins psycopg2 (binary), so say so."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            try:
                import psycopg  # noqa: F401
            except ImportError:
                return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def coursedir_for(cfg, **traits):
    from nbgrader.coursedir import CourseDirectory
    cd = CourseDirectory(config=cfg)
    for k, v in traits.items():
        setattr(cd, k, v)
    return cd


def default_jobs():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


# ================================================================ gradebook lock (SQLite)
class _GradebookLock:
    """A process-wide, re-entrant exclusive lock held for the lifetime of every nbgrader Gradebook."""

    def __init__(self, path):
        self.path, self.depth, self.fh = path, 0, None

    def acquire(self):
        if self.depth == 0:
            self.fh = open(self.path, "a")
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        self.depth += 1

    def release(self):
        if self.depth == 0:
            return
        self.depth -= 1
        if self.depth == 0:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None


_LOCK = None


def install_gradebook_lock(db_url, lock_path):
    """Serialize SQLite gradebook sessions across processes (no-op for other databases)."""
    global _LOCK
    from nbgrader import api
    if not db_url.startswith("sqlite"):
        return
    _LOCK = _GradebookLock(lock_path)
    if getattr(api.Gradebook, "_autograder_locked", False):
        return
    init, close = api.Gradebook.__init__, api.Gradebook.close

    def locked_init(self, *a, **k):
        _LOCK.acquire() if _LOCK else None
        self._autograder_lock = _LOCK
        try:
            init(self, *a, **k)
        except BaseException:
            self._autograder_lock.release() if self._autograder_lock else None
            self._autograder_lock = None
            raise

    def locked_close(self):
        try:
            close(self)
        finally:
            lock = getattr(self, "_autograder_lock", None)
            self._autograder_lock = None
            if lock:
                lock.release()

    api.Gradebook.__init__ = locked_init
    api.Gradebook.close = locked_close
    api.Gradebook._autograder_locked = True


@contextlib.contextmanager
def gradebook(db_url, course_id):
    from nbgrader.api import Gradebook
    gb = Gradebook(db_url, course_id)
    try:
        yield gb
    finally:
        gb.close()


# ================================================================ cell restoration
CELL_ORDER = {}  # (assignment, notebook) -> grade ids in the release's order (set in each worker)


def _restore_cells_class():
    """nbgrader's OverwriteCells, putting deleted grade cells back (from the gradebook) in the release's
    cell order -- nbgrader's own ``add_missing_cells`` fails when the cell before a deleted test cell
    was deleted too."""
    from nbgrader.preprocessors import OverwriteCells

    class RestoreCells(OverwriteCells):
        def add_missing_grade_cells(self, nb, resources):
            source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
            source = {c.name: c for c in source_nb.source_cells}
            grade_cells = {c.name: c for c in source_nb.grade_cells}
            solutions = {c.name for c in source_nb.solution_cells}
            order = CELL_ORDER.get((self.assignment_id, self.notebook_id)) or list(source)
            order = [g for g in order if g in source] + [g for g in source if g not in order]
            present = {nbgrader_id(c) for c in nb.cells}
            for gid in order:
                if gid not in grade_cells or gid in present:
                    continue
                self.log.warning("Missing grade cell %s: restored from the gradebook", gid)
                cell = self.missing_cell_transform(source[gid], grade_cells[gid].max_score,
                                                   is_solution=gid in solutions)
                before = set(order[:order.index(gid)])
                pos = 0
                for i, c in enumerate(nb.cells):
                    if nbgrader_id(c) in before:
                        pos = i + 1
                nb.cells.insert(pos, cell)
                present.add(gid)
            return nb, resources

    return RestoreCells


RestoreCells = _restore_cells_class()


def _cached_html_exporter():
    """nbconvert's HTMLExporter compiling its Jinja templates once per worker process instead of once
    per feedback page (a third of the cost of a page). Filters are re-registered by every exporter
    before it renders, so sharing the environment between consecutive exporters changes nothing."""
    from nbconvert.exporters import HTMLExporter

    class CachedHTMLExporter(HTMLExporter):
        _environments = {}

        def _create_environment(self):
            key = (tuple(self.template_paths), self.template_name, self.template_extension,
                   tuple(sorted(self.filters)), self.raw_template)
            env = CachedHTMLExporter._environments.get(key)
            if env is None:
                env = CachedHTMLExporter._environments[key] = super()._create_environment()
            else:
                for name, value in self.default_filters():
                    self._register_filter(env, name, value)
                for name, value in (self.filters or {}).items():
                    self._register_filter(env, name, value)
            return env

    return CachedHTMLExporter


CachedHTMLExporter = _cached_html_exporter()


def configure(cfg, timeout):
    """Our pieces in nbgrader's pipelines: sandboxed execution with the honest re-check, deleted
    test cells restored, hidden tests cleared from the feedback."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades, OverwriteCells
    from .execute import SandboxedExecute
    traits = Autograde.class_traits()
    san = cfg.Autograde.get("sanitize_preprocessors") or traits["sanitize_preprocessors"].default()
    auto = cfg.Autograde.get("autograde_preprocessors") or traits["autograde_preprocessors"].default()
    cfg.Autograde.sanitize_preprocessors = [RestoreCells if p is OverwriteCells else p for p in san]
    cfg.Autograde.autograde_preprocessors = [SandboxedExecute if p is Execute else p for p in auto]
    cfg.RestoreCells.add_missing_cells = True
    cfg.SandboxedExecute.timeout = int(round(timeout))
    cfg.GenerateFeedback.preprocessors = [ClearHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]
    cfg.GenerateFeedback.exporter_class = CachedHTMLExporter
    return cfg


def nbgrader_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def grade_ids(nb):
    """The nbgrader grade ids a notebook's cells carry."""
    return {nbgrader_id(c) for c in nb.get("cells", [])} - {None}


def match_share(nb, ids):
    """How much of a course notebook ``nb`` is: the share of that notebook's grade ids ``ids`` its cells
    carry (0 when ``ids`` is empty)."""
    return len(grade_ids(nb) & ids) / len(ids) if ids else 0.0


def best_match(shares):
    """The key of ``{key: match_share}`` that matches best, if at least half of it matches; else None."""
    best = max(shares, key=shares.get, default=None)
    return best if best is not None and shares[best] >= 0.5 else None


# ================================================================ staging
def _banner(text):
    return nbformat.v4.new_markdown_cell(f"**Grading note:** {text}")


def read_notebook(path):
    """The notebook, or the reason it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        json.loads(raw)
        nb = nbformat.reads(raw, as_version=4)
        if not isinstance(nb.get("cells"), list):
            return None, "no cells"
        return nb, None
    except Exception as exc:  # noqa: BLE001
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"


def stage(src, dest, expected, release_dir):
    """Copy a submission to ``dest`` for nbgrader, repairing what can be repaired. Returns notes."""
    notes = []
    dest.mkdir(parents=True)
    found = {}
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        rel_dir = os.path.relpath(dirpath, src)
        dirnames[:] = [d for d in dirnames if not d.startswith(".ipynb_checkpoints")]
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                notes.append(f"ignored the link {os.path.normpath(os.path.join(rel_dir, name))}")
        for name in filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel_dir == "." and name.endswith(".ipynb"):
                found[name[:-6]] = p
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
    parsed, broken = {}, {}
    for name, p in found.items():
        nb, err = read_notebook(p)
        if nb is None:
            broken[name] = err
        else:
            parsed[name] = nb
    unknown = {n: nb for n, nb in parsed.items() if n not in expected}
    for name, ids in expected.items():
        if name in parsed:
            nbformat.write(parsed[name], str(dest / f"{name}.ipynb"))
            continue
        # renamed? the notebook whose nbgrader cells are mostly this one's
        best = best_match({other: match_share(nb, ids) for other, nb in unknown.items()})
        if best is not None:
            nbformat.write(unknown.pop(best), str(dest / f"{name}.ipynb"))
            notes.append(f"{best}.ipynb graded as {name}.ipynb (renamed)")
            continue
        if name in broken:
            reason = f"{name}.ipynb is not a readable notebook ({broken[name]})"
        else:
            reason = f"{name}.ipynb is missing"
        notes.append(reason + "; graded as blank")
        blank = Path(release_dir) / f"{name}.ipynb"
        if blank.exists():
            nb = nbformat.read(str(blank), as_version=4)
            nb.cells.insert(0, _banner(reason + ": this notebook was graded as the blank release."))
            nbformat.write(nb, str(dest / f"{name}.ipynb"))
    for other in unknown:
        notes.append(f"extra notebook {other}.ipynb ignored")
    for other, err in broken.items():
        if other not in expected:
            notes.append(f"extra file {other}.ipynb ignored (not a notebook: {err})")
    return notes


def blank_submission(dest, expected, release_dir, reason, keep_timestamp=None):
    """Replace a staged submission by blank release notebooks with a banner (last resort)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in expected:
        blank = Path(release_dir) / f"{name}.ipynb"
        if blank.exists():
            nb = nbformat.read(str(blank), as_version=4)
            nb.cells.insert(0, _banner(f"this submission could not be graded ({reason}); "
                                       "it was graded as the blank release. Ask your instructor."))
            nbformat.write(nb, str(dest / f"{name}.ipynb"))
    if keep_timestamp and Path(keep_timestamp).is_file():
        shutil.copyfile(keep_timestamp, dest / "timestamp.txt")


def submission_hash(src):
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(src, followlinks=False)):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            h.update(os.path.relpath(p, src).encode() + b"\0")
            if os.path.islink(p):
                h.update(b"link:" + os.readlink(p).encode())
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


# ================================================================ the worker
_W = {}  # per-process state of a worker: config, options


def _quiet_logs():
    import warnings
    log = logging.getLogger("traitlets")
    log.handlers[:] = [logging.NullHandler()]
    log.propagate = False
    try:  # nbgrader's lazy relations make SQLAlchemy chatter about autoflush; nothing is wrong
        from sqlalchemy.exc import SAWarning
        warnings.filterwarnings("ignore", category=SAWarning)
    except ImportError:  # pragma: no cover
        pass


def _worker_init(state):
    _W.update(state)
    _quiet_logs()
    CELL_ORDER.clear()
    CELL_ORDER.update(state["cell_order"])
    install_gradebook_lock(state["db_url"], state["lock"])
    from . import execute
    execute.CONTEXT.sandbox = state["sandbox"]
    execute.CONTEXT.timeout = state["timeout"]


def _capture(app):
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    app.log.addHandler(handler)
    return buf, handler


def _autograde(cfg, assignment, student, staged_root):
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import NbGraderException
    cd = coursedir_for(cfg, assignment_id=assignment, student_id=student,
                      submitted_directory=str(staged_root))
    app = Autograde(coursedir=cd, config=cfg)
    app.force = True
    app.create_student = True
    buf, handler = _capture(app)
    try:
        app.start()
        return None
    except NbGraderException:
        return [_last_error(buf.getvalue())]
    except Exception as exc:  # noqa: BLE001
        return [f"{type(exc).__name__}: {exc}"]
    finally:
        app.log.removeHandler(handler)


def _last_error(log):
    """The most telling line of nbgrader's error log: the last exception raised."""
    import re
    lines = [ln.strip() for ln in log.splitlines()]
    exc = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b.*", ln)]
    if exc:
        return exc[-1][:300]
    errs = [ln for ln in lines if ln.startswith("[ERROR]") and "Please see" not in ln]
    return (errs[-1] if errs else "nbgrader autograde failed")[:300]


def _feedback(cfg, assignment, student):
    from nbgrader.converters import GenerateFeedback
    cd = coursedir_for(cfg, assignment_id=assignment, student_id=student)
    app = GenerateFeedback(coursedir=cd, config=cfg)
    app.force = True
    buf, handler = _capture(app)
    try:
        app.start()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"feedback not generated: {type(exc).__name__}: {exc}"
    finally:
        app.log.removeHandler(handler)


def grade_one(task):
    """Worker entry point: one (assignment, student). Returns a JSON-able result."""
    from . import execute
    t0 = time.monotonic()
    cfg = _W["config"]
    root = Path(_W["root"])
    src = Path(cfg.CourseDirectory.root) / _W["submitted"] / task.student / task.assignment
    staged_root = Path(_W["staging"]) / f"{task.assignment}-{task.student}-{os.getpid()}"
    dest = staged_root / task.student / task.assignment
    release_dir = Path(_W["release"]) / task.assignment
    execute.CONTEXT.records.clear()
    result = {"assignment": task.assignment, "student": task.student, "notes": [], "notebooks": {},
              "error": None, "failed": False}  # failed: nbgrader could not grade even the blank notebooks
    try:
        expected = _W["expected"][task.assignment]
        result["notes"] = stage(src, dest, expected, release_dir)
        err = _autograde(cfg, task.assignment, task.student, staged_root)
        if err:
            reason = "; ".join(err)[:300]
            result["notes"].append(f"nbgrader could not grade it ({reason}); graded as blank")
            result["error"] = reason
            blank_submission(dest, expected, release_dir, reason, src / "timestamp.txt")
            execute.CONTEXT.records.clear()
            err = _autograde(cfg, task.assignment, task.student, staged_root)
            if err:
                result["error"] = "; ".join(err)[:300]
                result["failed"] = True
                result["notes"].append("grading failed twice: " + result["error"])
        if _W["feedback"] and not err:
            fb = _feedback(cfg, task.assignment, task.student)
            if fb:
                result["notes"].append(fb)
        for (a, s, nbname), rec in execute.CONTEXT.records.items():
            result["notebooks"][nbname] = rec
    except Exception as exc:  # noqa: BLE001 -- one submission never stops the run
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["notes"].append("grading crashed: " + traceback.format_exc(limit=2).replace("\n", " ")[-300:])
    finally:
        shutil.rmtree(staged_root, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - t0, 2)
    return result


# ================================================================ the run
class GradingRun:
    def __init__(self, opts):
        self.opts = opts
        self.root = Path(opts.root).resolve()
        self.cfg = course_config(self.root, opts.db_url)
        self.cd = coursedir_for(self.cfg)
        self.db_url = self.cd.db_url
        self.course_id = self.cd.course_id
        self.jobs = opts.jobs or default_jobs()
        self.timeout = float(opts.timeout or self.cfg.get("ExecutePreprocessor", {}).get("timeout", 0)
                             or self.cfg.get("Execute", {}).get("timeout", 0) or 120)
        self.state_dir = self._paths("autograded") / STATE_DIR
        configure(self.cfg, self.timeout)

    # ---------------------------------------------------------- set-up
    def _paths(self, step):
        return Path(self.cd.root) / getattr(self.cd, f"{step}_directory") \
            if not os.path.isabs(getattr(self.cd, f"{step}_directory")) else Path(getattr(self.cd, f"{step}_directory"))

    def assignments(self):
        if self.opts.assignments:
            return list(self.opts.assignments)
        sub = self._paths("submitted")
        names = set()
        if sub.is_dir():
            for student in sub.iterdir():
                if student.is_dir():
                    names.update(p.name for p in student.iterdir() if p.is_dir())
        src = self._paths("source")
        known = {p.name for p in src.iterdir() if p.is_dir()} if src.is_dir() else set()
        return sorted(names & known) if known else sorted(names)

    def ensure_in_gradebook(self, assignments):
        """nbgrader needs each assignment's cells in the gradebook (``generate_assignment``); add the
        missing ones, writing the student version to a scratch folder (never over exercises/)."""
        from nbgrader.api import MissingEntry
        missing = []
        with gradebook(self.db_url, self.course_id) as gb:
            for a in assignments:
                try:
                    if not gb.find_assignment(a).notebooks:
                        missing.append(a)
                except MissingEntry:
                    missing.append(a)
        if not missing:
            return
        from nbgrader.converters import GenerateAssignment
        scratch = Path(tempfile.mkdtemp(prefix="autograder-release-"))
        try:
            for a in missing:
                cd = coursedir_for(self.cfg, assignment_id=a, release_directory=str(scratch))
                app = GenerateAssignment(coursedir=cd, config=self.cfg)
                app.force = True
                buf, handler = _capture(app)
                try:
                    app.start()
                except Exception as exc:  # noqa: BLE001
                    raise RuntimeError(f"could not add {a} to the gradebook: {buf.getvalue()[-800:]}") from exc
                finally:
                    app.log.removeHandler(handler)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def expected(self, assignments):
        """Expected notebooks of each assignment and their grade ids (from the gradebook)."""
        out = {}
        with gradebook(self.db_url, self.course_id) as gb:
            for a in assignments:
                out[a] = {nb.name: {c.name for c in nb.source_cells} for nb in gb.find_assignment(a).notebooks}
        return out

    def cell_order(self, assignments):
        order = {}
        for a in assignments:
            for kind in ("release", "source"):
                folder = self._paths(kind) / a
                if folder.is_dir():
                    for p in sorted(folder.glob("*.ipynb")):
                        nb, _ = read_notebook(p)
                        if nb is not None and (a, p.stem) not in order:
                            order[(a, p.stem)] = [g for g in (nbgrader_id(c) for c in nb.cells) if g]
        return order

    def release_dir(self, assignments):
        """Folder with the blank student notebooks (the course's release, else a generated copy)."""
        rel = self._paths("release")
        if all((rel / a).is_dir() and list((rel / a).glob("*.ipynb")) for a in assignments):
            return rel
        from nbgrader.converters import GenerateAssignment
        scratch = Path(tempfile.mkdtemp(prefix="autograder-blank-"))
        self._cleanup.append(scratch)
        db = f"sqlite:///{scratch / 'scratch.db'}"
        for a in assignments:
            cd = coursedir_for(self.cfg, assignment_id=a, release_directory=str(scratch), db_url=db)
            app = GenerateAssignment(coursedir=cd, config=self.cfg)
            app.force = True
            _capture(app)
            app.start()
        return scratch

    def sandbox(self):
        from . import sandbox as sb
        hide = {self.cd.root, self._paths("source"), self._paths("submitted"), self._paths("autograded"),
                self._paths("feedback"), self._paths("release"), str(_repo_root()), *self.opts.hide}
        if self.db_url.startswith("sqlite:///"):
            hide.add(self.db_url[len("sqlite:///"):])
        exchange = self.cfg.get("Exchange", {}).get("root") or "/srv/nbgrader/exchange"
        hide.add(exchange)
        import autograder
        expose = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(autograder.__file__)}
        limits = sb.Limits(timeout=self.timeout, memory_mb=self.opts.memory_mb)
        box = sb.Sandbox(hide=sorted(str(h) for h in hide), expose=sorted(expose), limits=limits)
        box.check()
        return box

    # ---------------------------------------------------------- running
    def tasks(self, assignments):
        sub = self._paths("submitted")
        tasks, skipped = [], []
        for a in assignments:
            if not sub.is_dir():
                continue
            for student_dir in sorted(sub.iterdir()):
                s = student_dir.name
                if not (student_dir / a).is_dir():
                    continue
                if self.opts.students and s not in self.opts.students:
                    continue
                state = self._load_state(a, s)
                digest = self._digest(a, student_dir / a)
                autograded = Path(self.cd.format_path(self.cd.autograded_directory, s, a))
                if (self.opts.force or self.opts.students or not state or state.get("digest") != digest
                        or not autograded.is_dir()):
                    weight = float((state or {}).get("seconds") or self._source(a)[1])
                    tasks.append(Task(a, s, digest, weight))
                else:
                    skipped.append((a, s))
        return tasks, skipped

    def _source(self, a):
        """(the source notebooks' SHA-256 digests, concatenated; their size / 4000 as a cost guess),
        read once per run."""
        cache = self.__dict__.setdefault("_sources", {})
        if a not in cache:
            digests, size = b"", 0
            for p in sorted((self._paths("source") / a).glob("*.ipynb")):
                data = p.read_bytes()
                digests += hashlib.sha256(data).digest()
                size += len(data)
            cache[a] = (digests, size / 4000.0)
        return cache[a]

    def _digest(self, a, src):
        h = hashlib.sha256(f"{VERSION}|{self.timeout}|{self.opts.memory_mb}|{self.opts.feedback}".encode())
        h.update(submission_hash(src).encode())
        h.update(self._source(a)[0])
        return h.hexdigest()

    def _state_path(self, a, s):
        return self.state_dir / a / f"{s}.json"

    def _load_state(self, a, s):
        p = self._state_path(a, s)
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None

    def _save_state(self, result, digest):
        p = self._state_path(result["assignment"], result["student"])
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps({**result, "digest": digest}, indent=1, default=str))
        tmp.replace(p)

    def run(self, log=print):
        self._cleanup = []
        _quiet_logs()
        t0 = time.monotonic()
        assignments = self.assignments()
        if not assignments:
            raise SystemExit(f"no submissions found under {self._paths('submitted')}")
        sandbox = self.sandbox()
        try:
            self.ensure_in_gradebook(assignments)
            expected = self.expected(assignments)
            tasks, skipped = self.tasks(assignments)
            from nbgrader.api import MissingEntry
            with gradebook(self.db_url, self.course_id) as gb:  # students first, serially
                for s in sorted({t.student for t in tasks}):
                    try:
                        gb.find_student(s)
                    except MissingEntry:
                        gb.add_student(s)
            staging = Path(tempfile.mkdtemp(prefix="autograder-staging-"))
            self._cleanup.append(staging)
            # one lock per gradebook file on this machine, so that two runs on one SQLite file also take turns
            lock = Path(tempfile.gettempdir()) / (
                "autograder-gradebook-" + hashlib.sha1(self.db_url.encode()).hexdigest()[:16] + ".lock")
            state = {"config": self.cfg, "root": str(self.root), "submitted": self._paths("submitted"),
                     "staging": str(staging), "release": str(self.release_dir(assignments)),
                     "expected": expected, "db_url": self.db_url, "lock": str(lock), "sandbox": sandbox,
                     "timeout": self.timeout, "feedback": self.opts.feedback,
                     "cell_order": self.cell_order(assignments)}
            from . import execute
            execute.CONTEXT.sandbox = sandbox
            log(f"grading {len(tasks)} submission(s) of {', '.join(assignments)} with {self.jobs} job(s), "
                f"{self.timeout:g} s per cell; {len(skipped)} unchanged since the last run"
                f"\nsandbox: {sandbox.describe()}")
            results = self._dispatch(tasks, state)
            digests = {(t.assignment, t.student): t.digest for t in tasks}
            for r in results:
                self._save_state(r, digests[(r["assignment"], r["student"])])
        finally:
            if sandbox.cgroups:
                sandbox.cgroups.close()
            sandbox.cleanup()
            for p in self._cleanup:
                shutil.rmtree(p, ignore_errors=True)
        self.elapsed = time.monotonic() - t0
        return assignments, results, skipped

    def _dispatch(self, tasks, state):
        results = []
        if not tasks:
            return results
        bar = _progress(len(tasks), self.opts.progress)
        tasks = sorted(tasks, key=lambda t: t.weight, reverse=True)  # longest first: no lone straggler at the end
        if self.jobs == 1:
            _worker_init(state)
            for t in tasks:
                results.append(grade_one(t))
                bar.update(1)
        else:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=_worker_init,
                                     initargs=(state,)) as pool:
                futures = [pool.submit(grade_one, t) for t in tasks]
                for fut in as_completed(futures):
                    results.append(fut.result())
                    bar.update(1)
        bar.close()
        return sorted(results, key=lambda r: (r["assignment"], r["student"]))


def _repo_root():
    import autograder
    return Path(autograder.__file__).resolve().parent.parent


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total, enabled):
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
        tqdm.monitor_interval = 0
        return tqdm(total=total, unit="submission", file=sys.stderr, dynamic_ncols=True)
    except ImportError:  # pragma: no cover
        return _NoBar()
