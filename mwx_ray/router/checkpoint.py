"""Ray-free router checkpoints: ``router.json`` + ``router.safetensors`` (no pickle), experts by reference.

The folder holds the router network's tensors (MLPs, log-std, instruction embedding, pooled normalizer) and a
manifest with the network spec, gating, task, instruction text, label provenance and — for each expert — its
folder and ``parameter_hash``. Experts are not copied: :func:`load_router_policy` loads each from its folder
and refuses one whose hash differs from the recorded one (the frozen expert must be the one trained with).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from mwx_ray.atomic_io import atomic_path, atomic_write_text
from mwx_ray.router.experts_frozen import FrozenExpertPool
from mwx_ray.router.network import RouterNetwork, RouterPolicy

ROUTER_FORMAT = "mwx-router/1"
MANIFEST_FILE = "router.json"
WEIGHTS_FILE = "router.safetensors"


def save_router_checkpoint(policy: RouterPolicy, out_dir: str | Path, *, task_env_id: str, instruction_text: str,
                           extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``policy`` (router network or fixed weights + expert references) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    network = policy.network
    tensors = {"fixed_weights": policy.fixed_weights.detach().clone()}
    if network is not None:
        tensors.update({f"network.{k}": v.detach().clone().contiguous() for k, v in network.state_dict().items()})
    with atomic_path(out / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp))
    experts = policy.experts
    manifest = {
        "format": ROUTER_FORMAT,
        "task_env_id": task_env_id,
        "obs_dim": experts.task_obs_dim,
        "instruction": instruction_text,
        "gating": policy.gating_kind,
        "network": None if network is None else network.spec,
        "experts": [{"name": name, "folder": experts.folders[name], "parameter_hash": digest}
                    for name, digest in experts.parameter_hashes().items()],
        **dict(extra or {}),
    }
    atomic_write_text(out / MANIFEST_FILE, json.dumps(manifest, indent=2, default=str) + "\n")
    return out


def router_env_options(manifest: dict[str, Any]) -> dict[str, Any]:
    """How the checkpoint's router saw the composite task (``evaluate_router`` keywords): hand-over options,
    fallback expert folder, the clock and stage features, as recorded at training time."""
    return {key: manifest.get(key) for key in ("transitions", "fallback_folder")} | {
        key: bool(manifest.get(key, False)) for key in ("time_feature", "stage_feature")}


def read_router_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a router checkpoint (no {MANIFEST_FILE})")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != ROUTER_FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {ROUTER_FORMAT!r}")
    return manifest


def load_router_policy(folder: str | Path, *, expert_folders: Mapping[str, str] | None = None,
                       gating: str | None = None, switch_hold_steps: int | None = None) -> RouterPolicy:
    """Rebuild the policy; ``expert_folders`` may relocate experts (their hashes must still match); ``gating``
    (``soft``/``hard``) replaces the trained gating for inference, e.g. the argmax of a soft router's weights;
    ``switch_hold_steps`` replaces the recorded ``router.transitions.switch_hold_steps``."""
    folder = Path(folder)
    manifest = read_router_manifest(folder)
    relocated = dict(expert_folders or {})
    folders = {e["name"]: relocated.get(e["name"], e["folder"]) for e in manifest["experts"]}
    task_env_id = manifest["task_env_id"]
    tensors = load_file(str(folder / WEIGHTS_FILE))
    network = None
    if manifest["network"] is not None:
        state = {k.removeprefix("network."): v for k, v in tensors.items() if k.startswith("network.")}
        network = RouterNetwork(manifest["network"], instruction=state["instruction"], obs_mean=state["obs_mean"],
                                obs_std=state["obs_std"])
        network.load_state_dict(state)
    pool = FrozenExpertPool.load(folders, task_env_id=task_env_id, task_obs_dim=int(manifest["obs_dim"]))
    recorded = {e["name"]: e["parameter_hash"] for e in manifest["experts"]}
    changed = sorted(n for n, h in pool.parameter_hashes().items() if recorded[n] != h)
    if changed:
        raise ValueError(f"{folder}: experts {changed} differ from the ones this router was trained with")
    fixed = None if network is not None else tensors["fixed_weights"].tolist()
    if gating not in (None, "soft", "hard"):
        raise ValueError(f"gating {gating!r}: expected soft or hard")
    if switch_hold_steps is None:
        switch_hold_steps = int((manifest.get("transitions") or {}).get("switch_hold_steps", 0))
    return RouterPolicy(pool, network, gating_kind=gating or manifest["gating"], fixed_weights=fixed,
                        switch_hold_steps=switch_hold_steps)


def network_state_from_module_state(module_state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """RLlib router RLModule state (numpy, keys ``network.*``) -> RouterNetwork state_dict tensors."""
    return {k.removeprefix("network."): torch.as_tensor(v) for k, v in module_state.items()
            if k.startswith("network.")}
