"""hang.py NAME LABEL: a Python service that hangs in one task, for
test_killed.sh.  Registers as NAME (timeout 2 s), opens task LABEL
(timeout 0.5 s) in a worker thread, beats both every 0.1 s for 1 s, then
the worker thread blocks forever while the main thread keeps beating the
process.  Prints "registered PID" once registered and "task-silent" when
the task stops beating.  Exits 3 if still alive after 20 s, 1 on an error.
"""

import os
import sys
import threading
import time

import hbwatch


def main() -> int:
    name, label = sys.argv[1], sys.argv[2]
    try:
        hbwatch.register(name, 2.0)
    except OSError as e:
        print(f"hang.py: register: {e}", file=sys.stderr)
        return 1
    opened = threading.Event()
    never = threading.Event()

    def worker() -> None:
        with hbwatch.Task(label, 0.5) as task:
            opened.set()
            for _ in range(10):
                time.sleep(0.1)
                task.beat()
            print("task-silent", flush=True)
            never.wait()  # hung: a lock that is never released

    threading.Thread(target=worker, daemon=True).start()
    if not opened.wait(5):
        return 1
    print(f"registered {os.getpid()}", flush=True)
    for _ in range(210):
        time.sleep(0.1)
        hbwatch.beat()
    return 3


if __name__ == "__main__":
    sys.exit(main())
