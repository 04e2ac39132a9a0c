"""Who a process is, in words another process can check: `host:pid`."""

from __future__ import annotations

import os
import socket


def this_process() -> str:
    """This process as `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def died_here(holder: str) -> bool:
    """Whether `holder` (`host:pid`) ran on this machine and its process is gone (killed,
    crashed). A process on another machine, or one that exists under another user, is not.

    >>> died_here("some-other-host:1"), died_here(this_process())
    (False, False)
    """
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False
