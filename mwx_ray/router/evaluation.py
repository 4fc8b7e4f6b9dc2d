"""Deterministic evaluation of a router (or any policy) on a composite task, Ray-free.

Per episode: HumanoidBench return (``info["hb/return"]``), overall success (all stages completed), per-stage
success (``info["stage_success/<stage>"]``), and the router weights ``[T, K]`` with the active stage ``[T]``.
Artifacts: a weights-timeline plot (stacked areas over env steps, stage changes as vertical lines), a
video of episode 0 with the K weights drawn as labeled bars over each frame, and a strip of frames from that
video (one per stage change and evenly between, labeled with step and stage) for reports.
Episode ``i`` resets with seed ``seed + i`` (same initial states across compared policies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mwx_ray.video_io import write_mp4

# obs [D] -> (action [A], weights [K] or None for policies without a router)
ActWithWeights = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


@runtime_checkable
class EpisodicPolicy(Protocol):
    """A policy that keeps state within an episode (``RouterPolicy``: the switch hold's acting expert); the
    evaluation calls ``begin_episode`` after every reset."""

    def begin_episode(self) -> None: ...

    def act_with_weights(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]: ...


def episode_interface(policy: EpisodicPolicy | ActWithWeights) -> tuple[ActWithWeights, Callable[[], None] | None]:
    """(act, begin_episode) of an episodic policy, or (the callable, None) for a stateless one."""
    if isinstance(policy, EpisodicPolicy):
        return policy.act_with_weights, policy.begin_episode
    return policy, None


@dataclass
class RouterEpisode:
    episode_return: float
    length: int
    success: bool
    stage_success: dict[str, bool]
    weights: np.ndarray  # [T, K] (empty [T, 0] without a router)
    stages: np.ndarray  # [T] active stage index of each step's state
    actions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # [T, A] executed actions
    terminated: bool = False  # ended by the task's termination (a fall), not by its time limit


@dataclass
class RouterEvalResult:
    expert_names: list[str]
    stage_names: list[str]
    episodes: list[RouterEpisode]
    video_path: str | None = None
    plot_path: str | None = None
    strip_path: str | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """``hb/return``, ``hb/return_std``, ``hb/success``, ``stage_success/<stage>``, ``eval/usage/<expert>``."""
        returns = np.array([e.episode_return for e in self.episodes])
        out = {"hb/return": float(returns.mean()), "hb/return_std": float(returns.std()),
               "hb/success": float(np.mean([e.success for e in self.episodes])),
               "eval/episode_length": float(np.mean([e.length for e in self.episodes]))}
        for name in self.stage_names:
            out[f"stage_success/{name}"] = float(np.mean([e.stage_success.get(name, False) for e in self.episodes]))
        out.update(transition_metrics(self.episodes))
        weights = [e.weights for e in self.episodes if e.weights.size]
        if weights:
            mean = np.concatenate(weights).mean(axis=0)
            out.update({f"eval/usage/{name}": float(w) for name, w in zip(self.expert_names, mean, strict=True)})
        out.update(self.extra)
        return out


def run_router_episode(env, policy: EpisodicPolicy | ActWithWeights, seed: int, *,
                       frames: list[np.ndarray] | None = None, max_frames: int = 0, max_steps: int | None = None,
                       names: list[str] | None = None) -> RouterEpisode:
    act, begin_episode = episode_interface(policy)
    obs, info = env.reset(seed=seed)
    if begin_episode is not None:
        begin_episode()
    done, length, reward_sum, terminated = False, 0, 0.0, False
    weights, stages, actions = [], [], []
    while not done:
        action, w = act(obs)
        stages.append(int(info.get("stage", stages[-1] if stages else 0)))
        if w is not None:
            weights.append(np.asarray(w, dtype=np.float32))
        if frames is not None and len(frames) < max_frames:
            frame = env.render()
            frames.append(draw_weight_bars(frame, w, names or []) if w is not None else frame)
        actions.append(np.asarray(action, dtype=np.float32))
        obs, reward, terminated, truncated, info = env.step(actions[-1])
        reward_sum += float(reward)
        length += 1
        done = terminated or truncated or (max_steps is not None and length >= max_steps)
    task = env.unwrapped.task
    stage_names = [s.name for s in getattr(task, "stages", ())]
    stage_success = {name: bool(info.get(f"stage_success/{name}", done_flag)) for name, done_flag in
                     zip(stage_names, getattr(task, "completed", [False] * len(stage_names)), strict=True)}
    success = bool(info["success"]) if "success" in info else all(stage_success.values())
    return RouterEpisode(float(info.get("hb/return", reward_sum)), length, success, stage_success,
                         np.stack(weights) if weights else np.zeros((length, 0), np.float32), np.asarray(stages),
                         np.stack(actions), bool(terminated))


# A stage switch "caused" a fall if the episode terminates within 1 s (50 control steps) after it; action jerk is
# compared in a ±0.5 s window around the switch against the whole episode (our choices, stated in the report).
FALL_WINDOW_STEPS = 50
JERK_HALF_WINDOW_STEPS = 25


def action_jerk(actions: np.ndarray) -> np.ndarray:
    """[T-2] norm of the second difference of executed actions (normalized units per step²)."""
    if len(actions) < 3:
        return np.zeros(0)
    return np.linalg.norm(actions[2:] - 2.0 * actions[1:-1] + actions[:-2], axis=1)


def transition_metrics(episodes: list[RouterEpisode]) -> dict[str, float]:
    """``transition/switches`` (stage switches per episode), ``transition/fall_rate`` (share of switches followed by
    a fall within 1 s), ``transition/jerk_ratio`` (mean action jerk within ±0.5 s of a switch ÷ episode mean)."""
    switches, falls, near, overall = 0, 0, [], []
    for episode in episodes:
        jerk = action_jerk(episode.actions)
        if jerk.size:
            overall.append(float(jerk.mean()))
        for t in np.flatnonzero(np.diff(episode.stages)) + 1:
            switches += 1
            falls += int(episode.terminated and episode.length - t <= FALL_WINDOW_STEPS)
            window = jerk[max(0, t - JERK_HALF_WINDOW_STEPS - 2): t + JERK_HALF_WINDOW_STEPS]
            if window.size:
                near.append(float(window.mean()))
    mean_overall = float(np.mean(overall)) if overall else float("nan")
    return {"transition/switches": switches / max(len(episodes), 1),
            "transition/fall_rate": falls / switches if switches else float("nan"),
            "transition/jerk_ratio": float(np.mean(near)) / mean_overall if near and mean_overall > 0 else float("nan")}


def evaluate_router(policy: EpisodicPolicy | ActWithWeights, env_id: str, *, episodes: int, seed: int, expert_names: list[str],
                    video_path: str | Path | None = None, video_steps: int = 500, plot_path: str | Path | None = None,
                    max_steps: int | None = None, env_kwargs: Mapping[str, Any] | None = None,
                    transitions: Mapping[str, Any] | None = None, fallback_folder: str | None = None,
                    time_feature: bool = False, stage_feature: bool = False) -> RouterEvalResult:
    """Run ``episodes`` deterministic episodes of ``policy`` (a ``RouterPolicy`` or any ``act_with_weights``
    callable); video of episode 0 and the weights plot if paths are given.
    ``env_kwargs`` go to ``gymnasium.make`` (the task settings, ``TaskSection.env_kwargs``); ``transitions``
    (``router.transitions``), ``time_feature`` and ``stage_feature`` (``router.time_feature``,
    ``router.stage_feature``) wrap the env as in training (``router/transitions.py``)."""
    import gymnasium as gym

    import mwx_ray.envs  # noqa: F401 - registers the mwx ids
    from mwx_ray.router.transitions import wrap_router_env

    kwargs = dict(env_kwargs or {})
    if video_path:
        kwargs.update(render_mode="rgb_array", render_quality="fast")
    env = wrap_router_env(gym.make(env_id, **kwargs), transitions, fallback_folder, time_feature, stage_feature)
    frames: list[np.ndarray] = []
    try:
        runs = [run_router_episode(env, policy, seed + i, frames=frames if (video_path and i == 0) else None,
                                   max_frames=video_steps, max_steps=max_steps, names=expert_names)
                for i in range(episodes)]
        stage_names = [s.name for s in getattr(env.unwrapped.task, "stages", ())]
        fps = float(env.metadata.get("render_fps", 50))
    finally:
        env.close()
    result = RouterEvalResult(list(expert_names), stage_names, runs)
    if video_path and frames:
        result.video_path = str(write_mp4(frames, video_path, fps=fps))
        strip = Path(video_path).with_name(Path(video_path).stem + "_strip.png")
        result.strip_path = str(save_frame_strip(frames, runs[0], stage_names, strip))
    if plot_path and runs[0].weights.size:
        result.plot_path = str(plot_weight_timeline(runs[0].weights, runs[0].stages, expert_names, stage_names,
                                                    plot_path))
    return result


def plot_weight_timeline(weights: np.ndarray, stages: np.ndarray, names: list[str], stage_names: list[str],
                         path: str | Path) -> Path:
    """Stacked router weights ``[T, K]`` over env steps, with the stage boundaries marked; PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(len(weights))
    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=120)
    ax.stackplot(steps, weights.T, labels=names, alpha=0.85)
    # Stage names above the plot; a name closer than ~10% of the width to the previous one goes one line up,
    # so short stages (a 0.8 s stand-up) keep both names readable.
    previous, level = -np.inf, 0
    for t in np.flatnonzero(np.diff(stages)) + 1:
        ax.axvline(t, color="black", lw=1, ls="--")
        stage = int(stages[t])
        level = level + 1 if t - previous < 0.1 * len(weights) else 0
        previous = t
        if stage < len(stage_names):
            ax.text(t, 1.02 + 0.09 * (level % 2), stage_names[stage], fontsize=7, ha="left", va="bottom")
    ax.set_xlim(0, max(len(weights) - 1, 1))
    ax.set_ylim(0, 1)
    ax.set_xlabel("env step (50 Hz)")
    ax.set_ylabel("router weight")
    ax.legend(loc="upper right", fontsize=7, ncol=min(len(names), 4))
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


STRIP_FRAMES = 6  # frames in a report strip: enough to show every stage of a 3-stage task and a step between


def strip_steps(stages: np.ndarray, filmed: int, count: int = STRIP_FRAMES) -> list[int]:
    """Which of the ``filmed`` steps a strip shows: every stage change (up to ``count − 2``), the rest evenly spaced
    from the first filmed step to the last."""
    changes = [int(t) for t in np.flatnonzero(np.diff(np.asarray(stages)[:filmed])) + 1][:max(count - 2, 0)]
    even = np.linspace(0, filmed - 1, count - len(changes)).astype(int).tolist()
    return sorted(set(changes) | set(even))


def save_frame_strip(frames: list[np.ndarray], episode: RouterEpisode, stage_names: list[str],
                     path: str | Path, count: int = STRIP_FRAMES) -> Path:
    """A PNG row of ``count`` frames of the filmed episode, each captioned ``t = <s> s · <stage>``; the title line
    says whether the episode succeeded."""
    from PIL import Image, ImageDraw

    steps = strip_steps(episode.stages, len(frames), count)
    tiles = []
    for t in steps:
        tile = Image.fromarray(np.ascontiguousarray(frames[t]))
        tile = tile.resize((tile.width // 2, tile.height // 2))
        draw = ImageDraw.Draw(tile)
        stage = int(episode.stages[t]) if t < len(episode.stages) else -1
        name = stage_names[stage] if 0 <= stage < len(stage_names) else ""
        draw.text((4, 4), f"t = {t / 50:.1f} s  {name}", fill=(255, 255, 255))  # H1 control at 50 Hz
        tiles.append(tile)
    header = 16
    strip = Image.new("RGB", (sum(t.width for t in tiles), tiles[0].height + header), (20, 20, 20))
    x = 0
    for tile in tiles:
        strip.paste(tile, (x, header))
        x += tile.width
    verdict = "all stages completed" if episode.success else "not all stages completed"
    ImageDraw.Draw(strip).text((4, 2), f"episode 0: {verdict}, return {episode.episode_return:.0f}",
                               fill=(255, 255, 255))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    strip.save(tmp)
    tmp.replace(path)
    return path


# One colour per expert (tab10), RGB uint8.
_COLOURS = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                     [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]], np.uint8)


def draw_weight_bars(frame: np.ndarray, weights: np.ndarray, names: list[str]) -> np.ndarray:
    """Frame ``[H, W, 3]`` with one horizontal bar per expert (length = weight) and its name, bottom-left."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.ascontiguousarray(frame))
    draw = ImageDraw.Draw(image)
    height, width = frame.shape[:2]
    row = max(8, height // 28)
    bar_max = width // 2
    top = height - row * len(weights) - 4
    for k, w in enumerate(np.asarray(weights, dtype=np.float64)):
        y = top + k * row
        colour = tuple(int(c) for c in _COLOURS[k % len(_COLOURS)])
        draw.rectangle([4, y, 4 + bar_max, y + row - 2], fill=(30, 30, 30))
        draw.rectangle([4, y, 4 + int(round(bar_max * float(np.clip(w, 0, 1)))), y + row - 2], fill=colour)
        label = f"{names[k] if k < len(names) else k} {w:.2f}"
        draw.text((8 + bar_max, y - 1), label, fill=(255, 255, 255))
    return np.asarray(image)
