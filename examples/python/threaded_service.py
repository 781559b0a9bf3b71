#!/usr/bin/python3
"""A threaded Python service with one hbwatch task per worker thread.

    threaded_service.py [NAME [WORKERS]]      (defaults: worker, 4)

The process registers under NAME (a section of hbwatch.ini) and beats
from its main thread; each worker thread opens a task of its own
("worker-N") and beats it after every job.  If one worker hangs (a lock
never released, a call that never returns), its task stops beating and
hbwatch signals the process, although the main thread and the other
workers are fine.  Stop it with SIGTERM or Ctrl-C.
"""

import queue
import signal
import sys
import threading
import time

import hbwatch

stop = threading.Event()


def handle(job: int) -> None:
    """One unit of work."""
    time.sleep(0.1)


def worker(n: int, jobs: "queue.Queue[int]") -> None:
    # Each job takes well under a second: beat at least every 5 s.  The
    # task is closed when the thread leaves the with block.
    with hbwatch.Task(f"worker-{n}", timeout=5.0) as task:
        while not stop.is_set():
            try:
                job = jobs.get(timeout=1.0)
            except queue.Empty:
                task.beat()  # idle is fine too
                continue
            if job % 100 == 0:
                task.extend(20.0)  # a job known to be long
            handle(job)
            task.beat()


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "worker"
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        # The process itself: beat at least every 10 s.  With wait=, know
        # that hbwatch watches it before starting work.
        hbwatch.register(name, timeout=10.0, wait=2.0)
    except OSError as e:
        print(f"hbwatch.register: {e.strerror}", file=sys.stderr)
        return 1
    jobs: "queue.Queue[int]" = queue.Queue(maxsize=100)
    threads = [threading.Thread(target=worker, args=(i, jobs), daemon=True)
               for i in range(workers)]
    for t in threads:
        t.start()
    job = 0
    while not stop.is_set():
        job += 1
        try:
            jobs.put(job, timeout=1.0)
        except queue.Full:
            pass
        hbwatch.beat()
    for t in threads:
        t.join()
    hbwatch.unregister()
    return 0


if __name__ == "__main__":
    sys.exit(main())
