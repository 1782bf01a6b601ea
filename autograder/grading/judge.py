"""Runs a submitted notebook inside the sandbox, judging every test cell from a clean state.

Started by :mod:`autograder.grading.box` after the trusted modules -- numpy, the checks the test cells
import, their references and whatever those import lazily -- have been imported, and *before* any
student code. At that moment :class:`Snapshot` records what a test depends on: the attributes of every
protected module (``builtins``, ``numpy``, ``autograder`` and everything the checks reference), the
code, defaults and closures of their functions, the dictionaries of their classes, the module-level
tables of the checks, and ``sys.path``/``sys.meta_path``/``sys.modules``.

Then the notebook's code cells run in order, IPython-style (magics stripped, the value of a final
expression displayed, matplotlib figures captured), each in a forked child:

* a non-test cell runs in a child that, once the cell is done, carries on as the main line; if the
  cell overruns its time limit it is interrupted (``CellTimeout``, like the kernel's KeyboardInterrupt)
  and, if it ignores that, killed -- then the parent, holding the state from before the cell, carries
  on, so the rest of the notebook is still graded;
* a test cell runs in a throwaway child that first notes what the notebook changed in the protected
  state (reported, "the notebook rebinds np.allclose"), **restores the snapshot**, resets tracing,
  signal handlers and the namespace's ``__builtins__`` (threads the notebook started do not survive
  the fork), runs the test, and compares the protected state with the snapshot again: a function that
  rewires the grader *while being checked* fails that test.

So every test scores what the same functions earn in an honest notebook. A child that dies
(``os._exit``, a signal, the memory limit) marks that cell and every later test "died": the remaining
tests score 0, never "passed" (nbgrader #427).

Results go to ``out_fd`` as JSON lines, one per code cell, then ``{"event": "end"}``. One process
cannot fully defend itself against code running inside it: this stops rebinding and patching (what
the issue lists), not ``ctypes`` writes into the interpreter or code written against this module's
internals -- see book/instructors.md.
"""
import ast
import base64
import builtins
import copy
import io
import json
import linecache
import os
import select
import signal
import sys
import threading
import time
import traceback
import types

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python, whose dict can be restored
_CONTAINERS = (list, dict, set, bytearray)
SOFT_GRACE = 5.0  # seconds between the interrupt of a cell that overran and the kill
OUTPUT_LIMIT = 1 << 20  # bytes of stdout/stderr kept per cell


class CellTimeout(BaseException):
    """Raised in a cell that overran its time limit (like the kernel's KeyboardInterrupt)."""


def _root(name):
    return name.split(".", 1)[0]


# Bound at import, before any student code: what the grader itself calls between the student's cells
# and the restoration of the protected state (a notebook that rebinds ``builtins.isinstance`` or
# ``os.write`` must not change how its tests are run or reported).
_isinstance, _len, _callable, _getattr, _setattr, _delattr = isinstance, len, callable, getattr, setattr, delattr
_sorted, _list, _set, _id, _type, _vars, _hasattr = sorted, list, set, id, type, vars, hasattr
_write, _read, _close, _fork, _pipe, _exit = os.write, os.read, os.close, os.fork, os.pipe, os._exit
_waitpid, _setpgid, _killpg, _kill = os.waitpid, os.setpgid, os.killpg, os.kill
_select = select.select
_settrace, _setprofile = sys.settrace, sys.setprofile
_t_settrace, _t_setprofile = threading.settrace, threading.setprofile
_signal, _setitimer, _sigmask = signal.signal, signal.setitimer, signal.pthread_sigmask
_dumps, _loads = json.dumps, json.loads
_monotonic = time.monotonic
_modules = sys.modules


class Snapshot:
    """What the checks depend on, recorded before any student code runs.

    ``modules``: names of the protected modules (see :func:`protected_modules`); module-level tables
    (lists, dicts, sets, arrays) are copied too for the packages in ``deep`` (the checks')."""

    def __init__(self, modules, deep=("autograder",)):
        self.names = frozenset(modules)
        self.deep = frozenset(deep)
        self.builtins = dict(builtins.__dict__)
        self.modules = {}  # name -> (module, dict copy, class)
        self.functions = {}  # id -> (function, code, defaults, kwdefaults, closure contents)
        self.classes = {}  # id -> (class, dict copy)
        self.tables = []  # [container, pristine deep copy]
        self.sys_lists = {k: list(getattr(sys, k)) for k in ("path", "meta_path", "path_hooks")}
        for name in sorted(self.names):
            mod = sys.modules.get(name)
            if isinstance(mod, types.ModuleType):
                self.modules[name] = (mod, dict(mod.__dict__), mod.__class__)
        for name, (mod, d, _) in self.modules.items():
            deep = _root(name) in self.deep and not name.startswith("autograder.grading")
            for key, value in d.items():
                self._record(value, depth=0)
                if deep and not key.startswith("__"):
                    self._record_table(value)

    def _protected_obj(self, obj):
        mod = getattr(obj, "__module__", None)
        return isinstance(mod, str) and mod in self.names

    def _record(self, obj, depth):
        if isinstance(obj, types.FunctionType):
            if id(obj) not in self.functions and self._protected_obj(obj):
                contents = []
                for c in obj.__closure__ or ():
                    try:
                        contents.append((c, c.cell_contents))
                    except ValueError:  # an empty cell
                        pass
                self.functions[id(obj)] = (obj, obj.__code__, obj.__defaults__, obj.__kwdefaults__, contents)
        elif isinstance(obj, (staticmethod, classmethod)):
            self._record(obj.__func__, depth)
        elif isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                self._record(f, depth)
        elif isinstance(obj, type):
            if (obj.__flags__ & _HEAPTYPE) and id(obj) not in self.classes and self._protected_obj(obj) and depth < 3:
                self.classes[id(obj)] = (obj, dict(obj.__dict__))
                for v in list(obj.__dict__.values()):
                    self._record(v, depth + 1)

    def _record_table(self, value):
        if isinstance(value, _CONTAINERS) or _is_array(value):
            try:
                self.tables.append([value, copy.deepcopy(value)])
            except Exception:
                pass

    def restore(self):
        """Put every protected thing back as recorded; return what had to be undone and could change a
        verdict (rebound functions, classes or modules, edited check tables, import hooks). Called in a
        throwaway child, so the parent's record stays pristine. Builtins and the functions' code come
        back first, with plain dict operations, so that the rest of this runs on pristine primitives."""
        out = []
        bd = builtins.__dict__
        for key, value in self.builtins.items():
            if bd.get(key, _MISSING) is not value:
                bd[key] = value
                out.append("builtins." + key + " rebound")
        for fn, code, defaults, kwdefaults, cells in self.functions.values():
            patched = False
            if fn.__code__ is not code:
                fn.__code__ = code
                patched = True
            if fn.__defaults__ is not defaults:
                fn.__defaults__ = defaults
                patched = True
            if fn.__kwdefaults__ is not kwdefaults:
                fn.__kwdefaults__ = kwdefaults
                patched = True
            for c, v in cells:
                try:
                    if c.cell_contents is not v:
                        c.cell_contents = v
                        patched = True
                except ValueError:
                    c.cell_contents = v
                    patched = True
            if patched:
                out.append(f"{fn.__module__}.{fn.__qualname__} patched")
        for cls, saved in self.classes.values():
            current = cls.__dict__
            for key in [k for k in current if k not in saved]:
                try:
                    delattr(cls, key)
                    out.append(f"{cls.__module__}.{cls.__qualname__}.{key} added")
                except (AttributeError, TypeError):
                    pass
            for key, value in saved.items():
                if key not in ("__dict__", "__weakref__") and current.get(key, _MISSING) is not value:
                    try:
                        setattr(cls, key, value)
                    except (AttributeError, TypeError):
                        pass
                    out.append(f"{cls.__module__}.{cls.__qualname__}.{key} patched")
        modules = _modules
        for name, (mod, saved, cls) in self.modules.items():
            if mod.__class__ is not cls:
                try:
                    mod.__class__ = cls
                except TypeError:
                    pass
                out.append(f"{name}.__class__ replaced")
            if name == "builtins":
                continue
            d = mod.__dict__
            ours = _root(name) == "autograder"
            skip = _SYS_VOLATILE if name == "sys" else _IGNORED_KEYS
            if ours:  # a name added to a check's module can shadow a builtin
                for key in [k for k in d if k not in saved and k not in skip]:
                    if not _submodule(name, key, d[key]):
                        del d[key]
                        out.append(f"{name}.{key} added")
            for key, value in saved.items():
                if key in skip:
                    continue
                new = d.get(key, _MISSING)
                if new is not value:
                    d[key] = value
                    if ours or _behaviour(value) or _behaviour(new):
                        out.append(f"{name}.{key} " + ("deleted" if new is _MISSING else "rebound"))
        if sys.__dict__.get("modules") is not modules:
            sys.__dict__["modules"] = modules
            out.append("sys.modules replaced")
        for name in list(modules):
            if _root(name) in _RESTORE_ROOTS and name not in self.modules and not _trusted_new_module(name):
                del modules[name]
                out.append(f"sys.modules[{name!r}] added")
        for name, (mod, _, _) in self.modules.items():
            if modules.get(name) is not mod:
                modules[name] = mod
                out.append(f"sys.modules[{name!r}] replaced")
        for k, saved in self.sys_lists.items():
            current = getattr(sys, k)
            if list(current)[:len(saved)] != saved:  # appending (a lazy import hook) is harmless
                out.append(f"sys.{k} modified")
            current[:] = saved
        for entry in self.tables:
            container, saved = entry
            if not _table_intact(container, saved):
                out.append("a table of the checks was edited")
            _restore_table(container, saved)
            try:
                entry[1] = copy.deepcopy(saved)  # the pristine reference for the next comparison
            except Exception:
                pass
        return sorted(set(out))


# Called through a fresh function made from the code object recorded here at import, and with a private
# copy of this module's globals: rebinding or patching ``Snapshot.restore`` cannot disable it.
_RESTORE_CODE = Snapshot.restore.__code__


def _restore(snapshot):
    return types.FunctionType(_RESTORE_CODE, _PRIVATE_GLOBALS)(snapshot)


_MISSING = object()
# sys attributes that running a cell rebinds by itself (our capture, the interpreter)
_SYS_VOLATILE = frozenset({"stdout", "stderr", "stdin", "last_type", "last_value", "last_traceback", "last_exc",
                           "ps1", "ps2", "tracebacklimit", "__warningregistry__"})
_IGNORED_KEYS = frozenset({"__warningregistry__"})  # written by the warnings machinery in any module
# sys.modules entries under these packages that appear after the snapshot are dropped before a test
_RESTORE_ROOTS = frozenset({"autograder", "numpy"})
_TRUSTED_PREFIXES = tuple(
    os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p
)


def _behaviour(value):
    """Rebinding this changes what code does (a function, class or module), not just a setting."""
    return value is not _MISSING and (callable(value) or isinstance(value, types.ModuleType))


def _is_array(value):
    return type(value).__name__ == "ndarray" and hasattr(value, "flags")


def _submodule(parent, key, value):
    """A submodule attribute added by a legitimate import (numpy.polynomial ...)."""
    return isinstance(value, types.ModuleType) and getattr(value, "__name__", None) == f"{parent}.{key}"


def _trusted_new_module(name):
    """A module imported after the snapshot from the trusted install (not the student's folder)."""
    if _root(name) == "autograder":
        return False
    path = getattr(sys.modules.get(name), "__file__", None)
    if not path:
        return False
    return os.path.realpath(path).startswith(_TRUSTED_PREFIXES)


def _restore_table(container, saved):
    try:
        if isinstance(container, list):
            container[:] = saved
        elif isinstance(container, (dict, set)):
            container.clear()
            container.update(saved)
        elif isinstance(container, bytearray):
            container[:] = saved
        else:  # numpy array
            if not container.flags.writeable:
                container.flags.writeable = True
            container[...] = saved
    except Exception:
        pass


def _deep_equal(a, b, depth=0):
    if a is b or depth > 12:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_deep_equal(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k], depth + 1) for k in a)
    if _is_array(a):
        import numpy as np
        try:
            return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        except Exception:
            return False
    if hasattr(a, "__dict__") and not isinstance(a, type) and not callable(a):
        return _deep_equal(vars(a), vars(b), depth + 1)
    try:
        return bool(a == b)
    except Exception:
        return False


def _table_intact(container, saved):
    """The snapshot's entries are all still there, unchanged (a lazily filled cache may grow)."""
    try:
        if isinstance(container, list):
            return len(container) >= len(saved) and _deep_equal(container[:len(saved)], saved)
        if isinstance(container, dict):
            return all(k in container and _deep_equal(container[k], v) for k, v in saved.items())
        if isinstance(container, set):
            return saved <= container
        return _deep_equal(container, saved)
    except Exception:
        return False


def lazy_imports(module_names):
    """Modules that the given (trusted) modules import anywhere, even inside functions -- imported and
    protected before student code runs, so that a check's late ``from sklearn.datasets import
    load_digits`` cannot pick up something the notebook patched."""
    found = set()
    for name in module_names:
        path = getattr(sys.modules.get(name), "__file__", None)
        if not path or not path.endswith(".py"):
            continue
        try:
            with open(path) as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                for a in node.names:
                    found.add(f"{node.module}.{a.name}")  # `from sklearn import datasets`
    return sorted(found)


def protected_modules(extra=()):
    """Names of the modules whose state the test cells depend on: all of ``builtins``, ``sys``,
    ``numpy`` and ``autograder``, every module the checks and references reference directly (``copy``,
    ``warnings``, ``math``, ``scipy.stats``, ``torch.nn.functional`` ...) or define the functions and
    classes they hold, and ``extra`` (what they import lazily)."""
    names = {"builtins", "sys"}
    for name, mod in list(sys.modules.items()):
        if isinstance(mod, types.ModuleType) and _root(name) in ("numpy", "autograder"):
            names.add(name)
    for name, mod in list(sys.modules.items()):
        if _root(name) != "autograder" or name.startswith("autograder.grading") \
                or not isinstance(mod, types.ModuleType):
            continue
        for value in list(vars(mod).values()):
            if isinstance(value, types.ModuleType):
                names.add(value.__name__)
            elif callable(value):
                m = getattr(value, "__module__", None)
                if isinstance(m, str) and m in sys.modules:
                    names.add(m)
    names.update(n for n in extra if isinstance(sys.modules.get(n), types.ModuleType))
    names.update(_GRADER_MODULES)  # what this module itself calls while running a test
    names.discard("__main__")
    return names


_GRADER_MODULES = ("os", "posix", "json", "json.decoder", "json.encoder", "json.scanner", "select", "signal",
                   "io", "threading", "time", "traceback", "types", "copy", "ast", "base64", "linecache",
                   "tempfile", "warnings")


# ================================================================ running one cell
class _Shell:
    """``get_ipython()`` in the sandbox: enough of IPython for notebooks -- cell magics run their body,
    line magics and shell escapes do nothing (there is no network and nothing to install)."""

    def __init__(self, ns):
        self.user_ns = ns

    def run_cell_magic(self, magic, line, body):
        if magic in ("capture", "time", "timeit", "prun", "debug", "python", "python3", "script"):
            exec(compile(_transform(body), "<cell magic>", "exec"), self.user_ns)
        if magic == "writefile" and line.strip():
            with open(line.split()[-1], "a" if "-a" in line.split() else "w") as f:
                f.write(body)
        return None

    def run_line_magic(self, magic, line, *a, **k):
        if magic in ("time", "timeit", "prun") and line.strip():
            try:
                return eval(compile(line.strip(), "<line magic>", "eval"), self.user_ns)
            except SyntaxError:
                exec(compile(line.strip(), "<line magic>", "exec"), self.user_ns)
        return None

    def system(self, *a, **k):
        return None

    def getoutput(self, *a, **k):
        return []

    def __getattr__(self, name):
        return lambda *a, **k: None


def _transform(source):
    """IPython syntax (magics, !shell) to plain Python, as the kernel does."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def _format_value(value):
    try:
        from IPython.lib.pretty import pretty
        return pretty(value)
    except Exception:
        return repr(value)


class _Capture:
    """stdout/stderr of a cell, at file-descriptor level (what the kernel captures too)."""

    def __enter__(self):
        import tempfile
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except Exception:
                pass
        self.files = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
        os.dup2(self.files[0].fileno(), 1)
        os.dup2(self.files[1].fileno(), 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(os.dup(1), "wb"), encoding="utf-8", errors="replace",
                                      line_buffering=True, write_through=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(2), "wb"), encoding="utf-8", errors="replace",
                                      line_buffering=True, write_through=True)
        return self

    def streams(self):
        out = []
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except Exception:
                pass
        for name, f in zip(("stdout", "stderr"), self.files):
            f.seek(0)
            data = f.read(OUTPUT_LIMIT + 1)
            text = data[:OUTPUT_LIMIT].decode("utf-8", errors="replace")
            if len(data) > OUTPUT_LIMIT:
                text += "\n[output truncated]\n"
            if text:
                out.append({"output_type": "stream", "name": name, "text": text})
        return out

    def __exit__(self, *exc):
        for s in (sys.stdout, sys.stderr):
            try:
                s.close()
            except Exception:
                pass
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
        for f in self.files:
            f.close()
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        return False


def _error_output(exc, show_frames):
    """An error output. Test cells show only the exception (their source holds the hidden tests);
    other cells show the frames in notebook code, as a kernel would."""
    if show_frames:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
        lines = traceback.format_list(frames) if frames else []
        tb = ["Traceback (most recent call last):"] + [ln.rstrip("\n") for ln in lines] if lines else []
    else:
        tb = []
    tb += [ln.rstrip("\n") for ln in traceback.format_exception_only(type(exc), exc)]
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc), "traceback": tb}


def _figures():
    """Open matplotlib figures as PNG outputs, then closed (what the inline backend does)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    out = []
    try:
        for num in plt.get_fignums():
            fig = plt.figure(num)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", bbox_inches="tight", dpi=72)
            out.append({"output_type": "display_data", "metadata": {},
                        "data": {"image/png": base64.b64encode(buf.getvalue()).decode(),
                                 "text/plain": f"<Figure size {fig.get_figwidth() * 72:g}x"
                                               f"{fig.get_figheight() * 72:g} with {len(fig.axes)} Axes>"}})
        plt.close("all")
    except Exception:
        pass
    return out


_HELD = [{}, False]  # the notebook's own builtins, set aside while the grader's code runs; in use?
_compile, _eval = compile, eval


def _to_pristine(snapshot):
    """Put the recorded builtins back, keeping the notebook's versions aside (dict operations only)."""
    if not _HELD[1]:
        return
    _HELD[1] = False
    bd = builtins.__dict__
    held = {}
    for key, value in snapshot.builtins.items():
        current = bd.get(key, _MISSING)
        if current is not value:
            held[key] = current
            bd[key] = value
    _HELD[0] = held


def _to_student():
    """Give the notebook its own builtins back (around its code only)."""
    if _HELD[1]:
        return
    _HELD[1] = True
    bd = builtins.__dict__
    for key, current in _HELD[0].items():
        if current is _MISSING:
            bd.pop(key, None)
        else:
            bd[key] = current


def run_source(source, ns, label, test=False, snapshot=None):
    """Execute one cell the way IPython would: the value of a final expression is its result.

    Returns the outputs (nbformat dicts); exceptions become an error output. CellTimeout propagates.
    For a non-test cell (``snapshot`` given) the notebook's code runs with whatever builtins the
    notebook set, and the grader's code around it with the pristine ones."""
    outputs = []
    linecache.cache[label] = (len(source), None, source.splitlines(True), label)
    swap = snapshot is not None and not test
    with _Capture() as cap:
        try:
            code = _transform(source)
            tree = ast.parse(code, filename=label)
            body, last = tree.body, None
            if body and isinstance(body[-1], ast.Expr) and not code.rstrip().endswith(";"):
                last = ast.Expression(body.pop().value)
            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            main = _compile(ast.Module(body=body, type_ignores=[]), label, "exec", flags=flags)
            tail = _compile(last, label, "eval", flags=flags) if last is not None else None
            value = None
            if swap:
                _to_student()
            try:
                result = _eval(main, ns)
                if _type(result) is types.CoroutineType:
                    import asyncio
                    asyncio.run(result)
                if tail is not None:
                    value = _eval(tail, ns)
                    if _type(value) is types.CoroutineType:
                        import asyncio
                        value = asyncio.run(value)
            finally:
                if swap:
                    _to_pristine(snapshot)
            if value is not None:
                ns["_"] = value
                outputs.append({"output_type": "execute_result", "execution_count": None, "metadata": {},
                                "data": {"text/plain": _format_value(value)}})
        except CellTimeout:
            raise
        except BaseException as exc:  # noqa: BLE001 -- SystemExit/KeyboardInterrupt in a cell are errors
            outputs.append(_error_output(exc, show_frames=not test))
        if not test:
            outputs = _figures() + outputs
        streams = cap.streams()
    return streams + outputs


# ================================================================ process plumbing
def _send(fd, obj):
    # lines.send_message, on the primitives bound at import: the notebook's cells may rebind json or os
    data = (_dumps(obj) + "\n").encode()
    while data:
        data = data[_write(fd, data):]


def _on_alarm(signum, frame):
    raise CellTimeout()


def _reset_process_state():
    """What student code in an earlier cell may have changed about the process itself."""
    _settrace(None)
    _setprofile(None)
    _t_settrace(None)
    _t_setprofile(None)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGXCPU, signal.SIGCHLD):
        try:
            _signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    _signal(signal.SIGALRM, _on_alarm)
    _sigmask(signal.SIG_SETMASK, [])


def _describe_status(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        if sig == signal.SIGKILL:
            return f"was killed ({name}; the memory limit?)"
        if sig == signal.SIGSEGV:
            return f"crashed ({name}, segmentation fault)"
        return f"was killed by {name}"
    if os.WIFEXITED(status):
        return f"exited (status {os.WEXITSTATUS(status)}: os._exit or a fatal error)"
    return "stopped"


def _fork_cell(timeout):
    """Fork. The child gets (None, w) with the cell's timer armed; the parent waits and gets
    ((outcome, detail, payload), None) with outcome "done", "timeout" or "died"."""
    r, w = _pipe()
    pid = _fork()
    if pid == 0:
        _close(r)
        try:
            _setpgid(0, 0)
        except OSError:
            pass
        _reset_process_state()
        if timeout:
            _setitimer(signal.ITIMER_REAL, timeout)
        return None, w
    _close(w)
    deadline = _monotonic() + (timeout + SOFT_GRACE if timeout else 10 ** 9)
    buf, eof = b"", False
    while not eof and not buf.endswith(b"\n"):
        left = deadline - _monotonic()
        if left <= 0:
            break
        ready, _, _ = _select([r], [], [], left if left < 1.0 else 1.0)
        if ready:
            chunk = _read(r, 65536)
            eof = not chunk
            buf += chunk
    _close(r)
    if buf.endswith(b"\n"):
        payload = _loads(buf.decode())
        if not payload.get("keep"):
            _waitpid(pid, 0)
        return ("done", "", payload), None
    if not eof:  # overran even the interrupt: kill the cell's whole process group
        for kill in (lambda: _killpg(pid, signal.SIGKILL), lambda: _kill(pid, signal.SIGKILL)):
            try:
                kill()
            except OSError:
                pass
        _waitpid(pid, 0)
        return ("timeout", "", None), None
    _, status = _waitpid(pid, 0)
    return ("died", _describe_status(status), None), None


def _timeout_output(timeout, test):
    what = "this question scores 0, the rest is graded" if test else "the rest of the notebook is still run"
    return {"output_type": "error", "ename": "CellTimeoutError",
            "evalue": f"the cell did not finish within {timeout:g} s",
            "traceback": [f"CellTimeoutError: the cell did not finish within {timeout:g} s (the per-cell "
                          f"time limit); {what}"]}


def _died_output(detail, where):
    return {"output_type": "error", "ename": "KernelDied", "evalue": f"the Python process {detail} {where}",
            "traceback": [f"KernelDied: the Python process {detail} {where}; this test and every later one "
                          "score 0"]}


def _tamper_output(changes):
    shown = "; ".join(changes[:6]) + (" ..." if len(changes) > 6 else "")
    return {"output_type": "error", "ename": "TamperingDetected", "evalue": shown,
            "traceback": [f"TamperingDetected: the code under test changed the grader while it was being "
                          f"checked ({shown}); this test scores 0"]}


def _trusted_source(job_path, index, fallback):
    """A test cell's source, read again from the read-only job file (not from memory the student's
    code could reach)."""
    try:
        with open(job_path) as f:
            for cell in json.load(f)["cells"]:
                if cell["index"] == index:
                    return cell["source"]
    except Exception:
        pass
    return fallback


def run(job, snapshot, out_fd, job_path=None, *, _fork_cell=_fork_cell, _send=_send, _restore=_restore,
        _run_source=run_source, _trusted_source=_trusted_source, _exit=_exit, _write=_write, _close=_close,
        _setitimer=_setitimer, _modules=_modules, _builtins=builtins, _Shell=_Shell,
        _to_pristine=_to_pristine):
    """The main line: every code cell in order (see the module docstring). Never returns.

    The helpers are bound as default arguments: rebinding this module's names from a notebook cell
    does not reach the loop that is already running."""
    timeout = float(job.get("timeout") or 0)
    main_mod = types.ModuleType("__main__")
    ns = main_mod.__dict__
    ns["__builtins__"] = _builtins
    ns["get_ipython"] = lambda: _Shell(ns)
    _modules["__main__"] = main_mod
    dead = None
    for cell in job["cells"]:
        index, kind = cell["index"], cell["kind"]
        test = kind == "test"
        label = f"<cell {index}>"
        if dead is not None:
            if test:
                _send(out_fd, {"cell": index, "kind": kind, "status": "died", "detail": dead,
                               "outputs": [_died_output(dead, "in an earlier cell")]})
            continue
        outcome, w = _fork_cell(timeout)
        if w is not None:  # ---------------------------------------------------- the child
            try:
                _to_pristine(snapshot)
                if test:
                    # undo what the notebook's own cells changed, noting it (builtins were put aside above)
                    rebound = sorted(set(_restore(snapshot)) | {f"builtins.{k} rebound" for k in _HELD[0]})
                    ns["__builtins__"] = _builtins
                    ns["get_ipython"] = lambda: _Shell(ns)
                    _modules["__main__"] = main_mod
                    source = _trusted_source(job_path, index, cell["source"]) if job_path else cell["source"]
                    outputs = _run_source(source, ns, label, test=True)
                    _setitimer(signal.ITIMER_REAL, 0)
                    changed = _restore(snapshot)  # anything to undo now was done while being checked
                    _send(out_fd, {"cell": index, "kind": kind, "status": "tampered" if changed else "ok",
                                   "outputs": [_tamper_output(changed)] if changed else outputs,
                                   "rebound": rebound})
                    _write(w, b'{"keep": false}\n')
                    _exit(0)
                outputs = _run_source(cell["source"], ns, label, snapshot=snapshot)
                _setitimer(signal.ITIMER_REAL, 0)
                _send(out_fd, {"cell": index, "kind": kind, "status": "ok", "outputs": outputs})
                _write(w, b'{"keep": true}\n')
                _close(w)
                continue  # this child is now the main line
            except CellTimeout:
                _setitimer(signal.ITIMER_REAL, 0)
                _to_pristine(snapshot)
                _send(out_fd, {"cell": index, "kind": kind, "status": "timeout",
                               "outputs": [_timeout_output(timeout, test)]})
                if test:
                    _write(w, b'{"keep": false}\n')
                    _exit(0)
                # an interrupted non-test cell keeps what it defined before the interrupt, as in a kernel
                _write(w, b'{"keep": true}\n')
                _close(w)
                continue
            except BaseException:  # the grader's own failure: say so, let the parent carry on
                try:
                    _to_pristine(snapshot)
                    _send(out_fd, {"cell": index, "kind": kind, "status": "error", "outputs": [{
                        "output_type": "error", "ename": "GraderError", "evalue": "internal error",
                        "traceback": ["GraderError: " + traceback.format_exc(limit=3).replace("\n", " ")]}]})
                finally:
                    _exit(3)
        # ---------------------------------------------------------------- the parent
        result, detail, payload = outcome
        if result == "done":
            if payload.get("keep"):
                _exit(0)  # the child carries on as the main line
            continue
        if result == "timeout":  # killed after ignoring the interrupt: carry on from before the cell
            _send(out_fd, {"cell": index, "kind": kind, "status": "timeout",
                           "outputs": [_timeout_output(timeout, test)]})
            continue
        dead = detail
        _send(out_fd, {"cell": index, "kind": kind, "status": "died", "detail": detail,
                       "outputs": [_died_output(detail, "while running this cell")]})
    _send(out_fd, {"event": "end"})
    _exit(0)


_PRIVATE_GLOBALS = dict(globals())
