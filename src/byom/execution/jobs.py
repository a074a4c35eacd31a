"""Training runs in the background; the catalog always records how it ended.

CREATE PREDICTOR returns at once, and its training moves the predictor through
``generating`` → ``training`` → ``complete`` | ``error``. RETRAIN trains a new
version while the current one keeps answering: ``update_status`` goes to
``updating``, then the new version replaces the old one (``up_to_date``), or the
old one stays with ``update_failed`` and the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from byom.backends.formats import Backends
from byom.catalog.records import Predictor
from byom.catalog.store import Catalog
from byom.errors import ByomError
from byom.execution.training import train
from byom.settings import Settings
from byom.sources.registry import Sources

logger = logging.getLogger(__name__)

Key = tuple[str, str]


def job_key(predictor: Predictor) -> Key:
    """Jobs are found by project and name, whatever their case."""
    return predictor.project.lower(), predictor.name.lower()


class TrainingJobs:
    """One background task per predictor being trained or retrained."""

    def __init__(
        self, catalog: Catalog, sources: Sources, backends: Backends, settings: Settings
    ) -> None:
        self._catalog = catalog
        self._sources = sources
        self._backends = backends
        self._settings = settings
        self._tasks: dict[Key, asyncio.Task[ByomError | None]] = {}

    def running(self, predictor: Predictor) -> bool:
        """Tell whether a training of this predictor is under way."""
        task = self._tasks.get(job_key(predictor))
        return task is not None and not task.done()

    def start_training(self, predictor: Predictor) -> asyncio.Task[ByomError | None]:
        """Train a new predictor; its record follows the job's progress."""

        async def run() -> ByomError | None:
            self._catalog.save_predictor(predictor.replace(status="training"))
            outcome = await self._run(predictor)
            if isinstance(outcome, ByomError):
                failed = predictor.replace(status="error", error=outcome.message)
                self._catalog.save_predictor(failed)
                return outcome
            self._catalog.save_predictor(outcome)
            return None

        return self._start(predictor, run)

    def start_retraining(
        self, current: Predictor, candidate: Predictor
    ) -> asyncio.Task[ByomError | None]:
        """Train candidate as the next version; current answers until it is ready."""

        async def run() -> ByomError | None:
            self._catalog.save_predictor(current.replace(update_status="updating"))
            outcome = await self._run(candidate)
            if isinstance(outcome, ByomError):
                kept = current.replace(
                    update_status="update_failed", error=outcome.message
                )
                self._catalog.save_predictor(kept)
                return outcome
            self._catalog.save_predictor(outcome.replace(update_status="up_to_date"))
            return None

        return self._start(current, run)

    async def wait(self, predictor: Predictor, timeout: float) -> ByomError | None:
        """Wait up to timeout seconds for the predictor's job; its error, if any."""
        task = self._tasks.get(job_key(predictor))
        if task is None:
            return None
        done, _ = await asyncio.wait({task}, timeout=timeout)
        return task.result() if done else None

    def cancel(self, predictor: Predictor) -> None:
        """Stop the predictor's job (it is being dropped)."""
        task = self._tasks.pop(job_key(predictor), None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        """Cancel every job (server shutdown); their predictors record why."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def _start(
        self, predictor: Predictor, run: Callable[[], Awaitable[ByomError | None]]
    ) -> asyncio.Task[ByomError | None]:
        key = job_key(predictor)
        task = asyncio.create_task(self._guarded(predictor, run), name=f"train {key}")
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return task

    def _forget(self, key: Key, task: asyncio.Task[ByomError | None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    async def _guarded(
        self, predictor: Predictor, run: Callable[[], Awaitable[ByomError | None]]
    ) -> ByomError | None:
        try:
            return await run()
        except asyncio.CancelledError:
            self._record_cancelled(predictor)
            raise

    def _record_cancelled(self, predictor: Predictor) -> None:
        stored = self._catalog.find_predictor(predictor.name, predictor.project)
        if stored is None:
            return
        reason = "training was interrupted by a server stop"
        if stored.status in {"generating", "training"}:
            self._catalog.save_predictor(stored.replace(status="error", error=reason))
        elif stored.update_status == "updating":
            self._catalog.save_predictor(
                stored.replace(update_status="update_failed", error="re" + reason)
            )

    async def _run(self, predictor: Predictor) -> Predictor | ByomError:
        limit = self._settings.train_timeout
        try:
            async with asyncio.timeout(limit):
                return await train(
                    predictor,
                    self._sources,
                    self._backends,
                    self._settings.max_training_rows,
                )
        except TimeoutError:
            return ByomError(
                f"training predictor '{predictor.name}' took longer than "
                f"train_timeout ({limit:g} s)"
            )
        except ByomError as exc:
            logger.info("predictor %s: training failed: %s", predictor.name, exc)
            return exc
        except Exception as exc:  # noqa: BLE001
            # A background job has no client to report to: this is its top level.
            logger.exception("predictor %s: training crashed", predictor.name)
            return ByomError(
                f"training predictor '{predictor.name}' failed with an internal "
                f"error ({type(exc).__name__}); see the server log"
            )
