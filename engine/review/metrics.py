"""Prometheus metrics of the review workflow, registered on serve's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from engine.review.cases import BUST, OVERTURNED, STAND, STATES, UPHELD

DEADLINES = ("determination", "appeal")
REQUEST_RESULTS = ("accepted", "refused_late", "refused_unknown", "refused_not_party",
                   "refused_busted")
APPEAL_STEPS = ("filed", "refused", UPHELD, OVERTURNED)
NOTICE_KINDS = ("determination", "appeal_decision")
NOTICE_RESULTS = ("sent", "queued", "failed")


class ReviewMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.cases = Gauge("ceguard_review_cases", "Review cases, by state", ["state"],
                           registry=r)
        self.opened = Counter("ceguard_review_cases_opened", "Cases opened, by kind and origin",
                              ["kind", "origin"], registry=r)
        self.deadlines = Gauge("ceguard_review_deadlines",
                               "Cases whose deadline is nearing or passed",
                               ["deadline", "status"], registry=r)
        self.deadlines_missed = Counter("ceguard_review_deadlines_missed",
                                        "Deadlines passed before the step was taken",
                                        ["deadline"], registry=r)
        self.requests = Counter("ceguard_review_requests", "Firms' requests for review",
                                ["result"], registry=r)
        self.determinations = Counter("ceguard_review_determinations", "Determinations",
                                      ["outcome"], registry=r)
        self.appeals = Counter("ceguard_review_appeals", "Appeals filed, refused, decided",
                               ["step"], registry=r)
        self.notices = Counter("ceguard_review_notices", "FIX notices to the parties",
                               ["kind", "result"], registry=r)
        self.api_errors = Counter("ceguard_review_api_errors",
                                  "Refused HTTP requests of the case API and console, by status",
                                  ["status"], registry=r)
        for status in ("400", "401", "403", "404", "409", "422", "500"):
            self.api_errors.labels(status)
        for state in STATES:
            self.cases.labels(state)
        for deadline in DEADLINES:
            self.deadlines_missed.labels(deadline)
            for status in ("nearing", "passed"):
                self.deadlines.labels(deadline, status)
        for result in REQUEST_RESULTS:
            self.requests.labels(result)
        for outcome in (BUST, STAND):
            self.determinations.labels(outcome)
        for step in APPEAL_STEPS:
            self.appeals.labels(step)
        for kind in NOTICE_KINDS:
            for result in NOTICE_RESULTS:
                self.notices.labels(kind, result)
        for kind in ("trade", "event"):
            for origin in ("surveillance", "request", "analyst"):
                self.opened.labels(kind, origin)
