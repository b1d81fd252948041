"""The worker's research tasks, on the app's Huey queue beside the sync jobs.

* ``research_run``: work one run (:func:`dashboard.core.research.work_run`);
* ``research_tick``, every minute: runs paused for the quota whose reset has
  come, and runs whose worker died (their lease ran out), queued again.
"""

from __future__ import annotations

import logging

from .jobs import Jobs
from .research import Outcome, Research, work_run

log = logging.getLogger(__name__)


class ResearchJobs:
    """The research tasks, bound to the app's queue when it opens (``Jobs.when_open``)."""

    def __init__(self, jobs: Jobs, research: Research):
        self.jobs = jobs
        self.research = research
        jobs.when_open(self._bind)

    def _bind(self, huey) -> None:
        from huey import crontab  # see jobs.build_queue

        self._run = huey.task(name="research_run")(self.run)
        huey.periodic_task(crontab(minute="*"), name="research_tick")(self.tick)

    @property
    def huey(self):
        return self.jobs.huey

    def request_run(self, run_id: int) -> None:
        self.jobs.huey  # noqa: B018 (opens the queue and binds the tasks)
        self._run(run_id)

    def run(self, run_id: int) -> Outcome:
        outcome = work_run(self.research, run_id)
        log.info("research run %s: %s", run_id, outcome.code)
        return outcome

    def tick(self) -> int:
        picked = self.research.store.research.runs_to_pick_up(self.research.clock())
        for run_id in picked:
            self.request_run(run_id)
        if picked:
            log.info("research tick: %d runs queued again", len(picked))
        return len(picked)
