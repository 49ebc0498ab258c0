"""The review workflow inside `ceguard serve`: the desk, its clock and the HTTP server."""

from __future__ import annotations

import threading

from engine.config import EngineConfig
from engine.errors import ConfigError
from engine.live.engine import LiveEngine
from engine.obs.metrics import Metrics
from engine.review.desk import ReviewDesk
from engine.review.metrics import ReviewMetrics
from engine.review.settings import REVIEW
from engine.web.server import CaseServer


class ReviewService:
    def __init__(self, config: EngineConfig, engine: LiveEngine, metrics: Metrics,
                 log) -> None:
        self.config = config.review
        self.log = log
        self.desk = ReviewDesk(engine, self.config, ReviewMetrics(metrics.registry), log)
        if self.config.mode == REVIEW:
            engine.review = self.desk  # erroneous decisions now open cases
        self.server: CaseServer | None = None
        if self.config.listen is not None:
            try:
                self.server = CaseServer(self.desk, self.config, log)
            except OSError as exc:
                host, port = self.config.listen
                raise ConfigError(str(config.source), "review.listen",
                                  f"cannot listen on {host}:{port} ({exc.strerror})",
                                  "choose a free port or stop the other process") from exc
        self._stop = threading.Event()

    def start(self) -> None:
        """After the notifier is attached: notices left over by a stop, the clock, HTTP."""
        resumed = self.desk.resume()
        self.desk.tick()
        self.desk.start_clock(self._stop)
        if self.server is not None:
            self.server.start()
        self.log.info("review_serving", mode=self.config.mode,
                      url=self.server.url if self.server else None,
                      determinations_resumed=resumed)

    def stop(self) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.stop()


def review_service(config: EngineConfig, engine: LiveEngine, metrics: Metrics,
                   log) -> ReviewService | None:
    """None in auto mode without a [review] listen address: nothing to serve."""
    if config.review.mode != REVIEW and config.review.listen is None:
        return None
    return ReviewService(config, engine, metrics, log)
