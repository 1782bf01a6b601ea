"""``python -m autograder collect DIR``: file an LMS export under nbgrader's ``submitted/``.

Learning-management systems export one file per student (Canvas: ``smithjane_LATE_12345_678_ex1.ipynb``,
Moodle: ``Jane Smith_12345_assignsubmission_file_ex1.ipynb``, others a folder per student), often
zipped, with the notebook renamed. This files each notebook at
``submitted/<student>/<assignment>/<notebook>.ipynb``:

* the assignment and notebook are recognised from the notebook's nbgrader cell ids (so a renamed file
  still lands in the right place), against the course's source notebooks;
* the student id comes from the first of ``--pattern`` (regular expressions with a
  ``(?P<student_id>...)`` group, matched against the path inside DIR) and the built-in patterns that
  matches;
* anything it cannot place -- unreadable, not one of the course's notebooks, no student id, a
  different notebook already filed -- is listed with the reason, and nothing is overwritten unless
  ``--overwrite``.

No ``timestamp.txt`` is written (an export's file times are not submission times), so nbgrader applies
no late penalty to collected work.
"""
import json
import re
import zipfile
from pathlib import Path, PurePosixPath

from .pipeline import best_match, course_config, coursedir_for, grade_ids, match_share

BUILTIN_PATTERNS = [
    # Canvas: lastnamefirstname[_LATE]_<user id>_<submission id>_<original name>
    r"^(?:.*/)?[^/_]+_(?:LATE_)?(?P<student_id>\d+)_\d+_[^/]*\.ipynb$",
    # Moodle: "First Last_<id>_assignsubmission_file_<name>" (file, or folder holding the file)
    r"^(?:.*/)?[^/]*?_(?P<student_id>\d+)_assignsubmission_file_",
    # a folder per student: <student>/<file>.ipynb
    r"^(?P<student_id>[A-Za-z0-9][A-Za-z0-9._@-]*)/[^/]+\.ipynb$",
    # <student>_<anything>.ipynb or <student>-<anything>.ipynb
    r"^(?:.*/)?(?P<student_id>[A-Za-z0-9][A-Za-z0-9.@]*)[_-][^/]*\.ipynb$",
]
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def course_notebooks(root):
    """{(assignment, notebook): grade ids} from the course's source notebooks."""
    cd = coursedir_for(course_config(root, ""))
    source = Path(cd.root) / cd.source_directory
    out = {}
    if source.is_dir():
        for folder in sorted(p for p in source.iterdir() if p.is_dir()):
            for nb_path in sorted(folder.glob("*.ipynb")):
                try:
                    out[(folder.name, nb_path.stem)] = grade_ids(json.loads(nb_path.read_text()))
                except (OSError, ValueError):
                    pass
    return cd, out


def _candidates(directory):
    """(path inside DIR, bytes) for every .ipynb, including those inside .zip files."""
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        rel = path.relative_to(directory).as_posix()
        if "__MACOSX" in rel or "/." in "/" + rel:
            continue
        if path.suffix == ".ipynb":
            yield rel, path.read_bytes()
        elif path.suffix == ".zip":
            try:
                with zipfile.ZipFile(path) as z:
                    for info in z.infolist():
                        name = info.filename
                        if name.endswith(".ipynb") and "__MACOSX" not in name and not info.is_dir() \
                                and info.file_size < 64 << 20:
                            inner = PurePosixPath(name)
                            if inner.is_absolute() or ".." in inner.parts:
                                continue
                            yield f"{rel[:-4]}/{name}", z.read(info)
            except zipfile.BadZipFile:
                yield rel, None


def identify(nb, known, only=None):
    """The (assignment, notebook) of ``known`` that ``nb`` is, judged by its cells' grade ids; else None."""
    return best_match({key: match_share(nb, expected) for key, expected in known.items()
                       if not only or key[0] == only})


def student_of(rel, patterns):
    for pat in patterns:
        m = re.search(pat, rel)
        if m and m.groupdict().get("student_id"):
            sid = m.group("student_id").strip()
            if _VALID_ID.match(sid) and sid not in (".", ".."):
                return sid
    return None


def collect(directory, root=Path("."), assignment=None, patterns=(), dry_run=False, overwrite=False,
            out=print):
    directory = Path(directory)
    if not directory.is_dir():
        out(f"error: {directory} is not a folder")
        return 2
    cd, known = course_notebooks(root)
    if not known:
        out(f"error: no source notebooks found under {Path(cd.root) / cd.source_directory}")
        return 2
    submitted = Path(cd.root) / cd.submitted_directory
    pats = list(patterns) + BUILTIN_PATTERNS
    placed, problems, seen = [], [], {}
    for rel, data in _candidates(directory):
        if data is None:
            problems.append(f"{rel}: not a readable zip file")
            continue
        try:
            nb = json.loads(data.decode("utf-8"))
            if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
                raise ValueError("no cells")
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{rel}: not a readable notebook ({type(exc).__name__})")
            continue
        key = identify(nb, known, assignment)
        if key is None:
            problems.append(f"{rel}: its cells match no notebook of "
                            + (f"assignment {assignment}" if assignment else "the course"))
            continue
        sid = student_of(rel, pats)
        if sid is None:
            problems.append(f"{rel}: no student id in its name (give --pattern with (?P<student_id>...))")
            continue
        a, name = key
        dest = submitted / sid / a / f"{name}.ipynb"
        if (sid, a, name) in seen:
            problems.append(f"{rel}: a second notebook {name} for {sid} (first: {seen[(sid, a, name)]}); skipped")
            continue
        seen[(sid, a, name)] = rel
        if dest.exists() and dest.read_bytes() != data and not overwrite:
            problems.append(f"{rel}: {dest.relative_to(cd.root)} already holds a different notebook "
                            "(--overwrite to replace it)")
            continue
        placed.append((rel, dest))
        if not dry_run:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
    for rel, dest in placed:
        out(f"{'would file' if dry_run else 'filed'} {rel} -> {dest.relative_to(cd.root)}")
    students = {d.parent.parent.name for _, d in placed}
    out(f"{len(placed)} notebook(s) for {len(students)} student(s)" + (" (dry run)" if dry_run else ""))
    if problems:
        out(f"could not place {len(problems)}:")
        for p in problems:
            out("  " + p)
    return 1 if problems else 0
