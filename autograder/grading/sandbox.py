"""The sandbox every submission runs in: bubblewrap, as user ``nobody``, one per notebook.

As root (the recommended way to grade), a notebook runs as::

    sh -c 'join this box's cgroups'  bwrap --unshare-{ipc,pid,net,uts,cgroup} --die-with-parent --new-session
          --ro-bind / /  --dev /dev  --proc /proc  --tmpfs /tmp  --tmpfs /run /home /root /srv ...
          --tmpfs <course folder, solutions/, submitted/, autograded/, feedback/, the exchange ...>
          --ro-bind <the Python installation, the autograder package>
          --ro-bind <box>/in /tmp/box/in  --tmpfs /tmp/box/work
          --clearenv --setenv ...
          setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all
          python -m autograder.grading.box ...

bwrap runs as root only to build the mounts (so that it can expose an interpreter living in a folder
``nobody`` may not enter, such as /root/.pyenv); ``setpriv`` drops to ``nobody`` with no capabilities
before anything else runs. Without root, bwrap runs unprivileged in a user namespace, as the caller.

Inside: the root file system is read-only; the course folder, the instructor's solutions, the
gradebook, the exchange, every home folder, /tmp, /run and /srv are hidden (empty tmpfs); there is no
network (a fresh network namespace with only its own loopback); processes of other boxes are
invisible (a fresh PID namespace); the only writable places are a size-limited tmpfs working copy
and /tmp (tmpfs), both thrown away afterwards. Memory and the number of processes
are limited with a cgroup per box where the machine allows it (root, cgroup v1 or v2), else with
rlimits; CPU time, file size and open files with rlimits, set by the box before any student code.
"""
import os
import pwd
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSIDE = "/tmp/box"  # where the box's input and working copy appear inside the sandbox
IN, WORK = f"{INSIDE}/in", f"{INSIDE}/work"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


@dataclass
class Limits:
    timeout: float = 120.0  # seconds per cell
    memory_mb: int = 2048  # per notebook (cgroup memory or address space)
    work_mb: int = 256  # size of the writable working copy and of /tmp
    nproc: int = 64  # processes per box (cgroup pids; rlimit fallback is per user)
    file_mb: int = 64  # largest file a cell may write
    nofile: int = 1024


@dataclass
class Sandbox:
    """Where student code may look, and under which user it runs."""

    hide: list = field(default_factory=list)  # folders (or files) made invisible
    expose: list = field(default_factory=list)  # read-only folders re-exposed inside hidden ones
    limits: Limits = field(default_factory=Limits)
    user: str = "nobody"
    base: Path = None  # host folder holding the boxes of this run

    def __post_init__(self):
        self.bwrap = shutil.which("bwrap")
        self.setpriv = shutil.which("setpriv")
        self.as_root = os.geteuid() == 0
        try:
            pw = pwd.getpwnam(self.user)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        except KeyError:
            self.uid, self.gid = 65534, 65534
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix="autograder-"))
            os.chmod(self.base, 0o711)  # traversable, not listable: box names are random
        self.cgroups = _Cgroups.detect() if self.as_root else None

    # -------------------------------------------------------------- availability
    def check(self):
        """Raise SandboxUnavailable with a clear message unless a box can actually start."""
        if not self.bwrap:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed; student code is only ever run inside it.\n"
                "  Debian/Ubuntu: sudo apt-get install bubblewrap")
        if self.as_root and not self.setpriv:
            raise SandboxUnavailable("setpriv (util-linux) is needed to run student code as 'nobody'.")
        probe = self.command(None, ["/bin/sh", "-c", "test $(id -u) = %d && ! touch /probe 2>/dev/null"
                                    % (self.uid if self.as_root else os.geteuid())])
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise SandboxUnavailable(
                "bubblewrap is installed but could not start a sandbox:\n  " + (proc.stderr.strip() or
                                                                              f"exit status {proc.returncode}")
                + "\n  (user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1)")

    def describe(self):
        who = f"user {self.user}" if self.as_root else f"your own uid {os.geteuid()} (not root: cannot switch user)"
        limits = self.cgroups.describe() if self.cgroups else "rlimits (address space, processes per user)"
        return f"bubblewrap, {who}, no network, read-only root; memory/process limits: {limits}"

    # -------------------------------------------------------------- the command line
    def command(self, box, inner):
        """argv that runs ``inner`` inside a fresh sandbox (``box`` binds its folders, if given).

        As root, bwrap itself runs as root (so that it can bind an interpreter living in a folder
        ``nobody`` cannot read, such as /root/.pyenv) and ``setpriv`` inside the sandbox drops to
        ``nobody`` with no capabilities before anything else runs; otherwise bwrap runs unprivileged
        in a user namespace, as the caller."""
        if self.as_root:
            ns = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
            inner = [self.setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                     "--inh-caps=-all", "--bounding-set=-all", "--", *inner]
        else:
            ns = ["--unshare-all", "--cap-drop", "ALL"]
        b = [self.bwrap, *ns, "--die-with-parent", "--new-session",
             "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--perms", "01777", "--size", str(self.limits.work_mb << 20), "--tmpfs", "/tmp"]
        for p in _ALWAYS_HIDDEN:
            if os.path.isdir(p) and not os.path.islink(p):
                b += ["--tmpfs", p]
        for p in self._hidden():
            b += ["--tmpfs", p] if os.path.isdir(p) else ["--ro-bind", "/dev/null", p]
        made = set()
        for p in self._exposed():
            for anc in _ancestors_below_mounts(p, ["/tmp", *_ALWAYS_HIDDEN, *self._hidden()]):
                if anc not in made:  # bwrap would create these 0700: make them traversable
                    b += ["--perms", "0755", "--dir", anc]
                    made.add(anc)
            b += ["--ro-bind", p, p]
        if box is not None:
            b += ["--perms", "0755", "--dir", INSIDE, "--ro-bind", str(box.host_in), IN,
                  "--perms", "01777", "--size", str(self.limits.work_mb << 20), "--tmpfs", WORK, "--chdir", WORK]
        b += ["--clearenv"]
        for k, v in sandbox_env().items():
            b += ["--setenv", k, v]
        argv = b + list(inner)
        if box is not None and self.cgroups:
            argv = self.cgroups.wrap(box.name, argv, self.limits)
        return argv

    def _hidden(self):
        out = []
        for p in self.hide:
            p = os.path.realpath(str(p))
            if os.path.exists(p) and p not in out and p != "/" and not p.startswith(("/proc", "/dev")):
                out.append(p)
        return sorted(out, key=len)

    def _exposed(self):
        hidden = self._hidden() + ["/tmp", *_ALWAYS_HIDDEN]
        out = []
        for p in self.expose:
            p = os.path.realpath(str(p))
            if os.path.isdir(p) and any(p == h or p.startswith(h + os.sep) for h in hidden) and p not in out:
                out.append(p)
        return sorted(out, key=len)

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


# Hidden in every box (empty tmpfs): homes, runtime sockets (e.g. a database's), scratch space.
_ALWAYS_HIDDEN = ("/run", "/var/run", "/var/tmp", "/home", "/root", "/mnt", "/media", "/srv")


def sandbox_env():
    return {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": WORK, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
        "MPLCONFIGDIR": f"{WORK}/.matplotlib", "IPYTHONDIR": f"{WORK}/.ipython",
        "NBGRADER_EXECUTION": "autograde",
    }


class Box:
    """The host folder of one sandbox: ``in`` (read-only inside: the job and the submission's files) and
    the box's log."""

    def __init__(self, sandbox, name=None):
        self.sandbox = sandbox
        self.name = name or secrets.token_hex(8)
        self.host = Path(sandbox.base) / self.name
        self.host_in = self.host / "in"
        self.host_in.mkdir(parents=True)
        os.chmod(self.host, 0o711)
        os.chmod(self.host_in, 0o755)
        (self.host_in / "files").mkdir()
        os.chmod(self.host_in / "files", 0o755)

    def add_file(self, src, rel):
        """Copy one regular file (never a link) into the box's read-only input."""
        src = Path(src)
        if src.is_symlink() or not src.is_file():
            return False
        dest = self.host_in / "files" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(dest.parent, 0o755)
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o644)
        return True

    def write(self, name, text):
        path = self.host_in / name
        path.write_text(text)
        os.chmod(path, 0o644)
        return f"{IN}/{name}"

    def cleanup(self):
        if self.sandbox.cgroups:
            self.sandbox.cgroups.remove(self.name)
        shutil.rmtree(self.host, ignore_errors=True)


class _Cgroups:
    """Per-box memory and pids limits with cgroup v2 or v1 (root only)."""

    def __init__(self, version, dirs):
        self.version, self.dirs = version, dirs  # dirs: {controller: parent folder we created}

    @classmethod
    def detect(cls):
        base = Path("/sys/fs/cgroup")
        tag = f"autograder-{os.getpid()}"
        try:
            if (base / "cgroup.controllers").exists():  # v2
                ctl = (base / "cgroup.controllers").read_text().split()
                if "memory" in ctl and "pids" in ctl:
                    own = base / Path(_own_cgroup_v2()).relative_to("/")
                    parent = own.parent / tag if own != base else base / tag
                    parent.mkdir()
                    (parent / "cgroup.subtree_control").write_text("+memory +pids")
                    return cls(2, {"v2": parent})
            dirs = {}
            for c in ("memory", "pids"):
                if (base / c / "cgroup.procs").exists():
                    d = base / c / tag
                    d.mkdir()
                    dirs[c] = d
            if "memory" in dirs:
                return cls(1, dirs)
            for d in dirs.values():
                d.rmdir()
        except OSError:
            return None
        return None

    def describe(self):
        return f"cgroup v{self.version} per notebook"

    def wrap(self, name, argv, limits):
        mem = limits.memory_mb << 20
        steps = []
        if self.version == 2:
            d = self.dirs["v2"] / name
            d.mkdir(exist_ok=True)
            (d / "memory.max").write_text(str(mem))
            _try_write(d / "memory.swap.max", "0")
            (d / "pids.max").write_text(str(limits.nproc))
            steps.append(d / "cgroup.procs")
        else:
            d = self.dirs["memory"] / name
            d.mkdir(exist_ok=True)
            (d / "memory.limit_in_bytes").write_text(str(mem))
            _try_write(d / "memory.memsw.limit_in_bytes", str(mem))
            steps.append(d / "cgroup.procs")
            if "pids" in self.dirs:
                p = self.dirs["pids"] / name
                p.mkdir(exist_ok=True)
                (p / "pids.max").write_text(str(limits.nproc))
                steps.append(p / "cgroup.procs")
        script = "".join(f"echo $$ > {shlex.quote(str(s))} && " for s in steps) + 'exec "$@"'
        return ["/bin/sh", "-c", script, "sh"] + list(argv)

    def remove(self, name):
        for d in self.dirs.values():
            _rmdir_quiet(d / name)

    def close(self):
        for d in self.dirs.values():
            for child in d.glob("*"):
                if child.is_dir():
                    _rmdir_quiet(child)
            _rmdir_quiet(d)


def _ancestors_below_mounts(path, mounts):
    """Folders strictly between the innermost hidden mount containing ``path`` and ``path``."""
    best = max((m for m in mounts if path.startswith(m.rstrip("/") + "/")), key=len, default=None)
    if best is None:
        return []
    out, cur = [], os.path.dirname(path)
    while cur != best and cur.startswith(best):
        out.append(cur)
        cur = os.path.dirname(cur)
    return list(reversed(out))


def _own_cgroup_v2():
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:] or "/"
    return "/"


def _try_write(path, text):
    try:
        Path(path).write_text(text)
    except OSError:
        pass


def _rmdir_quiet(d):
    for _ in range(20):
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError:  # processes still leaving
            import time
            time.sleep(0.05)
