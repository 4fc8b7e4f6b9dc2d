"""The typed configuration schema: the only place where defaults live.

One root, :class:`MwxConfig`, serves every stage; a stage's YAML fills the sections it uses. Sizes that change
between a laptop and a cluster are all in ``resources`` so the same file scales by editing only that section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mwx_ray.config.experts_schema import ExpertsSection
from mwx_ray.config.labeling_schema import LabelingSection
from mwx_ray.config.router_schema import RouterSection
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.config.typed import setting


@dataclass
class RunSection:
    """Where a run's files go and how it is seeded."""

    name: str = setting("mwx", help="run name; also the prefix of the run folder")
    root_dir: str = setting("runs", help="project run directory (run folders, local MLflow store, Tune results)")
    seed: int = setting(0, ge=0, help="base seed; per-trial, per-runner and per-env seeds derive from it")
    plugins: list[str] = setting(factory=list, help="modules to import in every process before building envs: "
                                                    "where your own skills and tasks are registered")


@dataclass
class TrackingSection:
    """MLflow tracking. ``uri: null`` means a local SQLite store inside ``run.root_dir``."""

    uri: str | None = setting(None, help="MLflow tracking URI, e.g. http://127.0.0.1:5000; null = local sqlite")
    experiment_prefix: str = setting("", help="prefix for the per-stage experiments (experts, labels, router, ...)")
    required: bool = setting(False, help="abort when tracking fails (default: keep training, report the loss)")


@dataclass
class ResourcesSection:
    """Compute budget. The only section that should differ between a laptop and a cluster."""

    address: str | None = setting(None, help="Ray address to join; null = start a local Ray")
    num_cpus: int | None = setting(None, ge=1, help="CPUs for a local Ray (null = all)")
    num_gpus: int | None = setting(None, ge=0, help="GPUs for a local Ray (null = autodetect)")
    storage_path: str | None = setting(None, help="Tune storage (shared NFS/S3 on clusters); null = run.root_dir")
    max_concurrent_trials: int | None = setting(None, ge=1, help="Tune trials at once (null = as resources allow)")
    env_runners_per_trial: int = setting(1, ge=0, help="remote sampling actors per trial (0 = sample in the driver)")
    envs_per_env_runner: int = setting(1, ge=1, help="vectorized env copies per env runner")
    cpus_per_env_runner: float = setting(1.0, ge=0)
    cpus_per_learner: float = setting(1.0, ge=0, help="CPUs of a trial's driver process, which hosts its learner")
    gpus_per_learner: float = setting(0.0, ge=0)
    # Ray starts a trial's process with OMP_NUM_THREADS = floor(its CPUs) (ray/_private/utils.py), so torch uses one
    # thread with cpus_per_learner 1. Measured on a loaded 2-core machine: 2 threads made a PPO update 15x slower
    # (OpenMP threads spinning against other processes); use 2 only when the learner has the second core alone.
    torch_threads_per_learner: int | None = setting(None, ge=1, le=256,
                                                    help="torch intra-op threads of the learner process (mwx PPO "
                                                         "and fastsac learners); null = Ray's default")


@dataclass
class EnvSection:
    """Which task to build and how. ``task`` is a typed section (``env.task: walk`` is its shorthand for
    ``{name: walk}``; ``mwx_ray/config/task_schema.py`` lists every field)."""

    task: TaskSection = setting(factory=TaskSection)
    robot: str = setting("h1", help="robot name")
    render_quality: Literal["fast", "video"] = setting("fast", help="render preset for frames: fast "
                                                                   "(labeling) or video")


@dataclass
class MwxConfig:
    """Root of every mwx_ray config file."""

    description: str = setting("", help="what this config is for and the command that runs it")
    run: RunSection = setting(factory=RunSection)
    tracking: TrackingSection = setting(factory=TrackingSection)
    resources: ResourcesSection = setting(factory=ResourcesSection)
    env: EnvSection = setting(factory=EnvSection)
    experts: ExpertsSection = setting(factory=ExpertsSection)
    labeling: LabelingSection = setting(factory=LabelingSection)
    router: RouterSection = setting(factory=RouterSection)
