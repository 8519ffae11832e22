"""A real RQ (python-rq) worker against pmemkv-server: jobs enqueued from Python, run by a
burst worker, with results, failures and retries recorded. RQ exercises pipelines,
MULTI/EXEC with WATCH, hashes, lists, sets, sorted sets, expiry and streams (results)."""

import sys
from pathlib import Path

import pytest

rq = pytest.importorskip("rq", reason="pip install rq (scripts/test.sh installs it)")

sys.path.insert(0, str(Path(__file__).parent))
import rq_jobs  # noqa: E402


def test_rq_worker_runs_jobs_records_results_failures_and_retries(server, tmp_path):
    from rq import Queue, Retry, SimpleWorker
    from rq.job import JobStatus

    with server.client() as conn:
        q = Queue("training", connection=conn)
        ok = [q.enqueue(rq_jobs.add, i, 10) for i in range(5)]
        bad = q.enqueue(rq_jobs.fail, "bad input")
        flaky = q.enqueue(rq_jobs.flaky, str(tmp_path / "flaky-marker"), retry=Retry(max=2))
        assert q.count == 7
        worker = SimpleWorker([q], connection=conn)
        assert worker.work(burst=True) is True
        for i, job in enumerate(ok):
            job.refresh()
            assert job.get_status() == JobStatus.FINISHED
            assert job.return_value() == i + 10
        bad.refresh()
        assert bad.get_status() == JobStatus.FAILED
        assert "ValueError: bad input" in bad.latest_result().exc_string
        assert bad.id in q.failed_job_registry.get_job_ids()
        flaky.refresh()
        assert flaky.get_status() == JobStatus.FINISHED
        assert flaky.return_value() == "recovered"
        assert flaky.retries_left == 1
        assert q.count == 0
        assert len(q.finished_job_registry) == 6
        # The worker registered itself and cleaned up after its burst.
        assert rq.Worker.all(connection=conn) == []
