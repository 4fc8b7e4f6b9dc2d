"""The built-in skills of the expert pool (MetaWorld-X's SEP on the HumanoidBench h1 suite).

=========  ===============  ===============  =====================================================
skill      judging task     reference clip   note
=========  ===============  ===============  =====================================================
stand      ``stand``        ``stand``        quiet stance with sway
walk       ``walk``         ``walk``         ≈ 1.0 m/s on H1 (HumanoidBench's target speed)
run        ``run``          ``run``          ≈ 3.3 m/s on H1 (the task rewards up to 5 m/s)
sit        ``sit_simple``   ``sit``          stand → sit, then hold the seated pose
crawl      ``crawl``        ``crawl``        starts on hands and knees; the robot starts standing
reach      ``reach``        ``reach_left``   a fixed left-hand reach: a posture prior, not the random goal
turn       ``turn_around``  none             turn round on the spot (ours, for ``walk_to_chair_sit``)
=========  ===============  ===============  =====================================================
"""

from __future__ import annotations

from mwx_ray.envs.skills import SkillSpec

BUILTIN_SKILLS = (
    SkillSpec(name="stand", task="stand", clip="stand", cyclic=True),
    SkillSpec(name="walk", task="walk", clip="walk", cyclic=True),
    SkillSpec(name="run", task="run", clip="run", cyclic=True),
    SkillSpec(name="sit", task="sit_simple", clip="sit", cyclic=False),
    SkillSpec(name="crawl", task="crawl", clip="crawl", cyclic=True),
    SkillSpec(name="reach", task="reach", clip="reach_left", cyclic=False),
    SkillSpec(name="turn", task="turn_around"),
)
