"""What runs first inside a sandbox: ``python -m autograder.grading.box JOB --result-fd N``.

Trusted code, run as ``nobody`` before any student code:

1. lower its own limits (CPU time, file size, open files and -- without cgroups -- address space and
   processes), copy the submission's extra files into the working copy, drop the working folder from
   ``sys.path``;
2. import the heavy libraries the notebook uses (``torch``, ``matplotlib`` ...), the checks its test
   cells call and whatever those import lazily -- so that no cell's time limit is ever spent importing
   them (the "import torch timed out under load" trap) and the checks bind numpy's functions before
   student code could rebind them;
3. fork the notebook's run (:mod:`.judge`), forward its results line by line to the grader on
   ``--result-fd`` and enforce an overall deadline; finally kill whatever the student's code left
   running in the sandbox.
"""
import json
import os
import select
import shutil
import signal
import sys
import time

from autograder.grading.lines import send_message as _send, split_messages


def _limit(resource_mod, which, value):
    try:
        soft, hard = resource_mod.getrlimit(which)
        value = value if hard == resource_mod.RLIM_INFINITY else min(value, hard)
        resource_mod.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


def _apply_limits(limits):
    import resource
    mb = 1 << 20
    _limit(resource, resource.RLIMIT_CORE, 0)
    _limit(resource, resource.RLIMIT_FSIZE, int(limits["file_mb"]) * mb)
    _limit(resource, resource.RLIMIT_NOFILE, int(limits["nofile"]))
    if limits.get("cpu_s"):
        _limit(resource, resource.RLIMIT_CPU, int(limits["cpu_s"]))
    if not limits.get("cgroup"):
        _limit(resource, resource.RLIMIT_AS, int(limits["memory_mb"]) * mb)
        _limit(resource, resource.RLIMIT_NPROC, int(limits["nproc_user"]))


def _copy_files(src, dest):
    """The submission's extra files into the working copy (regular files only)."""
    if not os.path.isdir(src):
        return
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        target = os.path.normpath(os.path.join(dest, os.path.relpath(dirpath, src)))
        os.makedirs(target, exist_ok=True)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                try:
                    shutil.copyfile(path, os.path.join(target, name))
                except OSError:
                    pass


def _subreaper():
    """Orphans of the checkpoint forks come back to us to be reaped."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _import_all(names):
    failed = []
    for name in names:
        try:
            __import__(name)
        except BaseException as exc:  # noqa: BLE001 -- a broken optional library must not stop grading
            failed.append(f"{name}: {type(exc).__name__}: {exc}"[:200])
    return failed


def preimport(job):
    """Heavy libraries, the checks and what they import lazily. Returns (lazy names, failures)."""
    os.environ["MPLBACKEND"] = "Agg"
    failed = _import_all(job.get("preimport", []) + job.get("checkers", []))
    from autograder.grading import judge
    trusted = [n for n in list(sys.modules) if n.startswith(("autograder.checks", "autograder.reference",
                                                              "autograder.gradcheck"))]
    lazy = [n for n in judge.lazy_imports(trusted) if not n.startswith("autograder.grading")]
    quiet = [n for n in lazy if n not in sys.modules]
    for name in quiet:  # `from x import y` gives x.y, which may be a function rather than a module
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001
            pass
    return lazy, failed


def run(job, job_path, result_fd, lazy):
    """Fork the notebook's run, forward its lines, enforce an overall deadline, clean up after it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.close(result_fd)
        try:
            import warnings
            # plt.show() with the non-interactive backend: figures are captured after each cell instead
            warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")
            from autograder.grading import judge
            snapshot = judge.Snapshot(judge.protected_modules(lazy))
            judge.run(job, snapshot, w, job_path)
        finally:
            os._exit(0)
    os.close(w)
    budget = (float(job.get("timeout") or 60) + 10) * (len(job["cells"]) + 1) + 30
    deadline = time.monotonic() + budget
    buf, ended, reason = b"", False, "the notebook's process ended without finishing"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            reason = "the notebook ran out of time overall"
            break
        ready, _, _ = select.select([r], [], [], min(left, 1.0))
        _reap()
        if not ready:
            continue
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        messages, buf = split_messages(buf + chunk)
        for msg in messages:
            if msg.get("event") == "end":
                ended = True
            elif "cell" in msg:
                _send(result_fd, msg)
        if ended:
            break
    os.close(r)
    if not ended:
        _send(result_fd, {"event": "incomplete", "detail": reason})
    try:  # whatever the student's code left running goes now (kill(-1) spares us and pid 1)
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    time.sleep(0.05)
    _reap()


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    job_path = argv[0]
    result_fd = int(argv[argv.index("--result-fd") + 1])
    os.umask(0o077)
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd)]
    with open(job_path) as f:
        job = json.load(f)
    _apply_limits(job["limits"])
    _copy_files(job["files"], cwd)
    for var in ("MPLCONFIGDIR", "IPYTHONDIR"):
        if os.environ.get(var):
            os.makedirs(os.environ[var], exist_ok=True)
    _subreaper()
    t0 = time.monotonic()
    lazy, failed = preimport(job)
    _send(result_fd, {"event": "preimport", "seconds": round(time.monotonic() - t0, 2), "failed": failed})
    sys.path.append(cwd)  # the notebook may import its own helper modules, as in a kernel (but last)
    t0 = time.monotonic()
    run(job, job_path, result_fd, lazy)
    import resource
    cpu = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    _send(result_fd, {"event": "done", "seconds": round(time.monotonic() - t0, 2), "cpu": round(cpu, 2)})
    os.close(result_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
