"""A bounded pool of worker threads for the server's complete requests.

Only a request that has arrived whole reaches a worker, so a socket that is idle, trickling
or held by a timeout fault never occupies one (they stay with the I/O thread). Threads start
on demand, up to ``size``, the way ``concurrent.futures.ThreadPoolExecutor`` grows: a server
started and stopped without a request starts none, which keeps the per-test cost low. The
threads are daemons, so a storage call stuck in user code cannot keep the interpreter alive.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

Job = Callable[[], None]


class WorkerPool:
    def __init__(self, size: int, name: str) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"workers must be a positive integer, not {size!r}")
        self.size = size
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job: Job) -> None:
        """Run ``job`` on a worker: an idle one, a new one, or the next one to finish."""
        self._jobs.put(job)
        if self._idle.acquire(blocking=False):
            return
        with self._lock:
            if not self._closed and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def quiet(self) -> bool:
        """No job is waiting for a worker."""
        return self._jobs.empty()

    def close(self, wait: float = 1.0) -> None:
        """Let the workers finish their current job (for at most ``wait`` seconds) and exit."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        deadline = time.monotonic() + wait
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()  # jobs catch their own errors: a worker never dies of one
            self._idle.release()
