"""Publish a per-process heartbeat for the hbwatch watchdog.

Python bindings of libhbwatch(3), through ctypes: no compiler needed.  A
process registers once under the name of a service section of
hbwatch.ini(5) with a timeout, then beats at least once per timeout; when
it stops, hbwatch signals exactly this process and systemd's Restart=
brings the service back.  Tasks give a part of the process (a worker
thread, a job) a heartbeat and a timeout of its own::

    import hbwatch

    hbwatch.register("worker", timeout=5.0)
    with hbwatch.Task("import", timeout=30.0) as task:
        for row in rows:
            handle(row)
            task.beat()
    hbwatch.beat()

Times are in seconds (int or float), rounded up to whole milliseconds
(floats first to the nanosecond).  Every error raises OSError with the
errno of the C call (for example EINVAL for a bad name or timeout, ENOENT
when hbwatch is not running, ENOTCONN when the process is not
registered), os.strerror() as its text; a value that is no number,
negative, not finite or out of range raises OSError with EINVAL too.

The library is loaded on first use as "libhbwatch.so.0", or from the path
in the environment variable HBWATCH_LIBRARY when it is set; if it cannot
be loaded, that call raises OSError(ELIBACC).  A call the library is too
old to have raises OSError(ENOSYS).  The registry is found at the System
V key in $HBWATCH_KEY (hex), else 0x5098; the process must be allowed to
write it (in practice, be in group hbwatch).  See libhbwatch(3).
"""

from __future__ import annotations

import ctypes
import errno
import math
import os
import threading
from types import TracebackType
from typing import Callable, Dict, Optional, Type, Union

__all__ = [
    "NAME_MAX",
    "TASKS_MAX",
    "TASK_LABEL_MAX",
    "TIMEOUT_MAX",
    "Task",
    "beat",
    "extend",
    "register",
    "unregister",
]

#: Longest service name, in bytes (HB_NAME_MAX).
NAME_MAX = 63
#: Longest task label, in bytes (HB_TASK_LABEL_MAX).
TASK_LABEL_MAX = 31
#: Most tasks a process holds open at once (HB_TASKS_MAX).
TASKS_MAX = 124
#: Longest timeout hb_register() accepts, in seconds (HB_TIMEOUT_MAX_MS).
TIMEOUT_MAX = 86400.0

_UINT_MAX = 0xFFFFFFFF

Seconds = Union[int, float]

_PROTOTYPES = {
    "hb_register": [ctypes.c_char_p, ctypes.c_uint],
    "hb_register_wait": [ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint],
    "hb_beat": [],
    "hb_extend": [ctypes.c_uint],
    "hb_unregister": [],
    "hb_task_open": [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                     ctypes.c_uint],
    "hb_task_beat": [ctypes.c_void_p],
    "hb_task_extend": [ctypes.c_void_p, ctypes.c_uint],
    "hb_task_close": [ctypes.c_void_p],
}

# The C functions by name, once the library is loaded (on first use, so
# that importing never fails); None for one an older library lacks.
_fns: Dict[str, Optional[Callable[..., int]]] = {}
_load_lock = threading.Lock()


def _error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


# What a registration's error means, as libhbwatch(3) says (the same
# words as hbwatch.hpp's).
_REGISTER_WHY = {
    errno.ENOENT: "hbwatch is not running (no registry at the key; with a "
                  "wait, also a stopped hbwatch's)",
    errno.ENOSYS: "the System V shared-memory calls are blocked by a "
                  "seccomp filter (SystemCallFilter=); see libhbwatch(3), "
                  "SANDBOXED SERVICES",
    errno.EPERM: "hbwatch refused the registration (no such service, or "
                 "another unit or user than its section requires; see the "
                 "journal)",
    errno.EPROTO: "the segment at the key is not hbwatch's registry "
                  "(another program's, another version, or made by a user "
                  "other than root)",
}


def _load() -> None:
    """Load the C library and declare its prototypes."""
    with _load_lock:
        if _fns:
            return
        path = os.environ.get("HBWATCH_LIBRARY") or "libhbwatch.so.0"
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise OSError(errno.ELIBACC,
                          f"{os.strerror(errno.ELIBACC)}: {e}") from None
        fns: Dict[str, Optional[Callable[..., int]]] = {}
        for name, args in _PROTOTYPES.items():
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes = args
                fn.restype = ctypes.c_int
            fns[name] = fn
        _fns.update(fns)


def _call(name: str, *args: object) -> None:
    """Call the C function NAME; raise OSError for its -errno return, or
    ENOSYS when the library is too old to have it."""
    if not _fns:
        _load()
    fn = _fns[name]
    if fn is None:
        raise _error(errno.ENOSYS)
    r = fn(*args)
    if r < 0:
        why = _REGISTER_WHY.get(-r) if name.startswith("hb_register") else None
        if why:
            raise OSError(-r, f"{os.strerror(-r)}: {why}")
        raise _error(-r)


def _ms(seconds: Seconds) -> int:
    """SECONDS in whole milliseconds, rounded up; OSError(EINVAL) for a
    value that is no number, negative, not finite or above UINT_MAX ms."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise _error(errno.EINVAL)
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise _error(errno.EINVAL)
    if seconds < 0:
        raise _error(errno.EINVAL)
    if isinstance(seconds, int):
        ms = seconds * 1000
    else:
        # To the nanosecond first, so 1.1 (1.1000000000000000888) is
        # 1100 ms, not 1101.
        ms = -(-round(seconds * 1e9) // 1_000_000)
    if ms > _UINT_MAX:
        raise _error(errno.EINVAL)
    return int(ms)


def _name(name: str) -> bytes:
    """NAME as the C string the library expects; OSError(EINVAL) for no
    str, or one that is not ASCII or holds a NUL (the library checks the
    rest)."""
    if not isinstance(name, str):
        raise _error(errno.EINVAL)
    try:
        b = name.encode("ascii")
    except UnicodeEncodeError:
        raise _error(errno.EINVAL) from None
    if b"\0" in b:
        raise _error(errno.EINVAL)
    return b


def register(name: str, timeout: Seconds, *,
             wait: Optional[Seconds] = None) -> None:
    """Register the calling process with hbwatch under service NAME.

    The process promises a heartbeat (beat()) at least every TIMEOUT
    seconds.  Calling it again while registered updates name and timeout
    in place.  With WAIT (seconds), also wait that long at most until
    hbwatch has taken the registration up (hb_register_wait), beating
    meanwhile: then
    OSError(ETIMEDOUT) if it has not, OSError(EPERM) if hbwatch refused it
    (the registration stays in both cases).

    Raises OSError: EINVAL bad name or timeout, ENOENT hbwatch is not
    running (no registry; with WAIT also a stopped hbwatch's registry,
    after waiting that long for it to start: the registration stays for
    its next start), EACCES not allowed (not in the
    hbwatch group), EPROTO the segment at the key is not hbwatch's
    registry (another version, or made by a user other than root),
    ENOSYS a seccomp filter blocks the shared-memory calls, ENOSPC the
    host's segment limit.
    """
    b = _name(name)
    ms = _ms(timeout)
    if wait is None:
        _call("hb_register", b, ms)
    else:
        _call("hb_register_wait", b, ms, _ms(wait))


def beat() -> None:
    """Record a heartbeat of the process now (one store, no system call).

    Raises OSError(ENOTCONN) when the process is not registered.
    """
    _call("hb_beat")


def extend(seconds: Seconds) -> None:
    """Extend the process's heartbeat by SECONDS (hb_extend), for one long
    step that cannot beat in between: the deadline moves to at least
    SECONDS from now, once; the next beat() ends the extension.  hbwatch
    caps it (extend_max= of the service).

    Raises OSError: EINVAL bad value, ENOTCONN not registered.
    """
    _call("hb_extend", _ms(seconds))


def unregister() -> None:
    """End the process's registration (it also ends at normal exit).

    Raises OSError(ENOTCONN) when the process is not registered.
    """
    _call("hb_unregister")


class Task:
    """One task of the registered process, with a heartbeat and a timeout
    of its own (hb_task_open): hbwatch treats a task that stops beating
    as the whole process hanging.

    Open it from any thread once the process is registered; beat() it at
    least every TIMEOUT seconds; close() it when the work is done, or use
    it as a context manager, which closes it on the way out (also on an
    exception).  Closing twice is harmless.

    LABEL follows the rules of service names, at most TASK_LABEL_MAX
    bytes; labels need not be unique.  A process holds at most TASKS_MAX
    tasks open.  A task opened before unregister() (or inherited across
    os.fork()) is inert: beat() raises ENOTCONN, close() still frees it.

    Raises OSError: EINVAL bad label or timeout, ENOTCONN the process is
    not registered (or the task is closed), ENOSPC TASKS_MAX tasks open.
    """

    __slots__ = ("_handle", "_label", "_lock")

    def __init__(self, label: str, timeout: Seconds) -> None:
        self._label = label
        self._lock = threading.Lock()
        handle = ctypes.c_void_p()
        b = _name(label)
        _call("hb_task_open", ctypes.byref(handle), b, _ms(timeout))
        self._handle: Optional[int] = handle.value

    @property
    def label(self) -> str:
        """The task's label."""
        return self._label

    @property
    def closed(self) -> bool:
        """Whether the task is closed."""
        return self._handle is None

    # The lock keeps close() from freeing the C handle while another
    # thread is inside beat() or extend() with it: a Task shared between
    # threads never reaches a freed handle, it raises ENOTCONN instead.

    def beat(self) -> None:
        """Record a heartbeat of the task now (one store, no system call).

        Raises OSError(ENOTCONN) when the task is closed.
        """
        with self._lock:
            if self._handle is None:
                raise _error(errno.ENOTCONN)
            _call("hb_task_beat", ctypes.c_void_p(self._handle))

    def extend(self, seconds: Seconds) -> None:
        """Extend the task's heartbeat by SECONDS (hb_task_extend): its
        deadline moves to at least SECONDS from now, once; the next beat()
        ends the extension.  hbwatch caps it (extend_max= of the service).

        Raises OSError: EINVAL bad value, ENOTCONN the task is closed.
        """
        ms = _ms(seconds)
        with self._lock:
            if self._handle is None:
                raise _error(errno.ENOTCONN)
            _call("hb_task_extend", ctypes.c_void_p(self._handle), ms)

    def close(self) -> None:
        """Close the task: hbwatch stops watching it.  Closing a closed
        task does nothing; any thread may close it."""
        with self._lock:
            h, self._handle = self._handle, None
            if h is not None:
                _call("hb_task_close", ctypes.c_void_p(h))

    def __del__(self) -> None:
        # A task nobody can beat any more would get the process killed:
        # close it with its last reference, as a file is.
        try:
            if getattr(self, "_handle", None) is not None:
                self.close()
        except Exception:  # also at interpreter shutdown
            pass

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else "open"
        return f"<hbwatch.Task {self._label!r} {state}>"
