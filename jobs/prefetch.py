"""The next pages of a read, fetched while the runner writes the batch (issue 25, item 2).

A connector's `extract` spends its time waiting on the source (a Salesforce org answers each
call after 100-300 ms); the runner spends its own writing batches. `Prefetch` runs the read in a
producer thread that puts each complete page on a queue of at most `depth` pages, so the next
pages arrive while a batch is written and memory stays flat (at most `depth` pages ahead).
psycopg and sqlite3 release the GIL while the database works, and the source's client while
it waits on the network.

What the runner sees stays what it saw without it:
- pages come in the connector's order, each complete; an error the read raises comes after
  the pages yielded before it, as the same exception (its own type, message and traceback);
- the producer checks the run's cancel event and `stop()` before it asks the connector for
  the next page, so it stops within one page; the pages it completed before that are still
  handed over (and written whole, as a page the runner had taken would have been);
- `close()` (every way out of the read: done, error, lease lost) abandons what is queued,
  closes the connector's generator in the producer thread and joins that thread, so the
  connector is never used by two threads and never after its run closed it.
`depth = 0` reads in the runner's own thread, as before.

`start()` begins the producer before anyone iterates: the runner opens the next stream's read
while it still writes the stream before (jobs/sync.py, `_read_ahead`) once this read has come
to its end (`read_to_end()`: the connector's generator is exhausted and closed, so the next
read is the connector's only user). The pages wait on the queue until the runner gets there.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")

_PAGE, _ERROR, _END = "page", "error", "end"
_POLL = 0.05  # seconds between looks at "abandoned" while the queue is full


class Prefetch(Generic[T]):
    """Iterate `open_read()`'s items, up to `depth` of them fetched ahead by a producer thread."""

    def __init__(
        self,
        open_read: Callable[[], Iterator[T]],
        depth: int,
        cancel: threading.Event | None = None,
        name: str = "prefetch",
    ) -> None:
        self._open = open_read
        self._depth = depth
        self._cancel = cancel or threading.Event()
        self._stop = threading.Event()  # no next page: hand over what is fetched, then end
        self._abandoned = threading.Event()  # nobody reads any more: put nothing, end now
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(depth, 1))
        self._thread: threading.Thread | None = None
        self._inline: Iterator[T] | None = None
        self._to_end = threading.Event()  # the read ended by itself and its generator closed
        self._name = name
        #: The read ended because it was asked to stop (`stop()` or the cancel event), not
        #: at its end: the runner then ends the run cancelled, never as a read to its end.
        self.cut = False

    # --- the runner's side ----------------------------------------------------------------

    def start(self) -> None:
        """Start the producer now (it starts at the first iteration otherwise); in turn
        (`depth = 0`) nothing is read before the runner asks."""
        if self._depth > 0 and self._thread is None:
            context = contextvars.copy_context()  # the run's bound log fields, in the producer
            self._thread = threading.Thread(
                target=context.run, args=(self._produce,), name=self._name, daemon=True
            )
            self._thread.start()

    def __iter__(self) -> Iterator[T]:
        if self._depth <= 0:
            yield from self._inline_read()
            return
        self.start()
        while True:
            kind, value = self._queue.get()
            if kind == _PAGE:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return

    def idle(self) -> bool:
        """No fetched page waits: the source is slower than the runner, which may write
        what it holds now, while the next page is on its way (always False in turn)."""
        return self._thread is not None and self._queue.empty()

    def read_to_end(self) -> bool:
        """The producer's read came to its end by itself (not stopped, no error) and closed
        the connector's generator: it asks the connector for nothing more. The pages it
        fetched may still wait on the queue. Always False in turn."""
        return self._to_end.is_set()

    def stop(self) -> None:
        """Ask for no further page: the pages fetched already still come, then the end."""
        self._stop.set()

    def close(self) -> None:
        """Abandon what is queued and wait for the producer (at most its current page)."""
        self._stop.set()
        self._abandoned.set()
        if self._thread is not None:
            self._thread.join()
        if self._inline is not None:
            close = getattr(self._inline, "close", None)
            if close is not None:
                close()

    # --- the producer ---------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._stop.is_set() or self._cancel.is_set()

    def _inline_read(self) -> Iterator[T]:
        self._inline = iter(self._open())
        while not self._stopping():
            try:
                item = next(self._inline)
            except StopIteration:
                return
            yield item
        self.cut = True

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._abandoned.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        pages: Iterator[T] | None = None
        to_end = False
        try:
            pages = iter(self._open())
            while True:
                if self._stopping():
                    self.cut = True  # set before the end is queued: the runner reads it after
                    break
                try:
                    page = next(pages)
                except StopIteration:
                    to_end = True
                    break
                if not self._put((_PAGE, page)):
                    break
        except BaseException as exc:  # noqa: BLE001 - the runner raises it as its own
            self._put((_ERROR, exc))
            return
        finally:
            if pages is not None:
                close = getattr(pages, "close", None)
                if close is not None:
                    try:
                        close()  # the connector's own cleanup runs in the thread that read
                    except Exception as exc:  # noqa: BLE001 - the read ended already
                        log.warning("prefetch_close_failed", error=str(exc))
        if to_end:
            self._to_end.set()  # after the close: the connector is free for the next read
        self._put((_END, None))


__all__ = ["Prefetch"]
