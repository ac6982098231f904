"""Writes for generation, one module per concern; import from here.

* ``submission``: checking a recipe, the member's quota, saving and sending a job;
* ``lifecycle``: a job's transitions (start, progress, succeed, fail, cancel) and the
  claim a worker makes on a job;
* ``sweeper``: the sweeper that keeps the queue honest (stale workers, lost messages);
* ``running``: painting a claimed job (the step reporter, the messages a failure shows);
* ``registry``: the models workers may load;
* ``curation``: publishing some of a finished job's portraits, keeping others private;
* ``sweeps``: one idea submitted along an axis as several jobs, and the board's choices;
* ``taste``: a member's choices recorded as signals of their taste, and their control of it;
* ``workers``: which workers are up, the queues they consume, and whether they are ready.
"""

from generation.services.curation import job_portraits_visibility_set
from generation.services.lifecycle import (
    MAX_ATTEMPTS,
    JobHeartbeat,
    job_cancel,
    job_claim_batch,
    job_fail,
    job_fail_running,
    job_heartbeat,
    job_progress,
    job_start,
    job_succeed,
    publish_queue_positions,
)
from generation.services.registry import model_make_default, model_register, models_warm_up
from generation.services.running import (
    JobDeadlinePassed,
    JobStepReporter,
    finisher,
    job_inference_spec,
    job_run,
    jobs_run,
    user_message_for,
)
from generation.services.submission import (
    RUN_JOB_TASK,
    SUBMISSION_KEY_TTL,
    job_enqueue,
    job_remix_errors,
    job_spec_errors,
    job_submit,
    job_submit_again,
    job_submit_once,
    job_submit_remix,
    job_submit_reproduction,
    job_validate_spec,
    submission_keys_expire,
)
from generation.services.sweeper import jobs_sweep
from generation.services.sweeps import (
    sweep_cancel,
    sweep_compare,
    sweep_pick,
    sweep_spec_errors,
    sweep_submit,
    sweep_triage,
)
from generation.services.taste import taste_learning_set, taste_reset
from generation.services.workers import (
    WorkerPresenceBeat,
    worker_gone,
    worker_presence_beat,
    worker_present,
    worker_starting,
    worker_warmed,
)

__all__ = [
    "MAX_ATTEMPTS",
    "RUN_JOB_TASK",
    "SUBMISSION_KEY_TTL",
    "JobDeadlinePassed",
    "JobHeartbeat",
    "JobStepReporter",
    "WorkerPresenceBeat",
    "finisher",
    "job_cancel",
    "job_claim_batch",
    "job_enqueue",
    "job_fail",
    "job_fail_running",
    "job_heartbeat",
    "job_inference_spec",
    "job_portraits_visibility_set",
    "job_progress",
    "job_remix_errors",
    "job_run",
    "jobs_run",
    "job_spec_errors",
    "job_start",
    "job_submit",
    "sweep_cancel",
    "sweep_compare",
    "sweep_pick",
    "sweep_spec_errors",
    "sweep_submit",
    "sweep_triage",
    "taste_learning_set",
    "taste_reset",
    "job_submit_again",
    "job_submit_once",
    "job_submit_remix",
    "job_submit_reproduction",
    "job_succeed",
    "job_validate_spec",
    "jobs_sweep",
    "model_make_default",
    "model_register",
    "models_warm_up",
    "publish_queue_positions",
    "submission_keys_expire",
    "user_message_for",
    "worker_gone",
    "worker_presence_beat",
    "worker_present",
    "worker_starting",
    "worker_warmed",
]
