"""Answer text -> distribution over the K catalogue experts (or a reason why it is invalid).

Accepted answers, tried in this order (names and letters are case-insensitive; letters only as whole tokens):

1. a JSON object mapping experts (skill names or option letters) to non-negative numbers: weights that sum to
   1 (the paper's format) or 0-10 scores (the authors' code); normalized to sum 1, unnamed experts get 0;
2. ``name: number`` / ``name = number`` pairs, one or more (same meaning as 1);
3. a single option letter, alone or as ``Answer: B``, ``(B)``, ``Expert B``;
4. text naming exactly one catalogue skill as a whole word (``"I would use walk."``).

Everything else is invalid and the caller substitutes :func:`~mwx_ray.labeling.teachers.base.fallback_distribution`
(uniform) and counts it: empty text, unknown expert names, negative/non-finite numbers, all-zero weights,
letters outside A..K, several experts named without numbers.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np

from mwx_ray.labeling.catalogue import ExpertCatalogue
from mwx_ray.labeling.teachers.base import one_hot

_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.S)
_PAIR = re.compile(r"\b([A-Za-z_]\w*)\s*[:=]\s*(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)")
_SINGLE_LETTER = re.compile(r"^\W*(?:(?:answer|expert|option|choice)\W*)?([A-Za-z])\W*$", re.I)


@dataclass(frozen=True)
class ParsedAnswer:
    """``probs [K]`` float32 when valid, else None with ``reason`` saying why."""

    probs: np.ndarray | None
    reason: str = ""

    @property
    def valid(self) -> bool:
        return self.probs is not None


def _invalid(reason: str) -> ParsedAnswer:
    return ParsedAnswer(None, reason)


def _expert_index(key: str, catalogue: ExpertCatalogue) -> int | None:
    key = key.strip().strip("\"'").strip()
    lowered = key.lower()
    for i, skill in enumerate(catalogue.skills):
        if lowered == skill.lower():
            return i
    if len(key) == 1 and key.upper() in catalogue.letters:
        return catalogue.letters.index(key.upper())
    return None


def _from_weights(pairs: list[tuple[str, object]], catalogue: ExpertCatalogue) -> ParsedAnswer:
    weights = np.zeros(catalogue.size, dtype=np.float64)
    for key, value in pairs:
        index = _expert_index(str(key), catalogue)
        if index is None:
            return _invalid(f"unknown expert {str(key)!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _invalid(f"weight of {key!r} is not a number")
        if not math.isfinite(value) or value < 0:
            return _invalid(f"weight of {key!r} is negative or not finite")
        weights[index] += float(value)
    total = weights.sum()
    if total <= 0:
        return _invalid("all weights are zero")
    return ParsedAnswer((weights / total).astype(np.float32))


def _json_weights(text: str, catalogue: ExpertCatalogue) -> ParsedAnswer | None:
    for match in _JSON_OBJECT.finditer(text):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and data:
            return _from_weights(list(data.items()), catalogue)
    return None


def _pair_weights(text: str, catalogue: ExpertCatalogue) -> ParsedAnswer | None:
    pairs = [(key.strip(), float(value)) for key, value in _PAIR.findall(text)]
    pairs = [(key, value) for key, value in pairs if _expert_index(key, catalogue) is not None]
    return _from_weights(pairs, catalogue) if pairs else None


def parse_answer(text: str, catalogue: ExpertCatalogue, label_smoothing: float = 0.0) -> ParsedAnswer:
    """Parse one answer (rules in the module docstring). Single-expert answers get ``label_smoothing``."""
    text = (text or "").strip()
    if not text:
        return _invalid("empty answer")
    for parser in (_json_weights, _pair_weights):
        parsed = parser(text, catalogue)
        if parsed is not None:
            return parsed
    letter = _SINGLE_LETTER.match(text)
    if letter:
        index = _expert_index(letter.group(1), catalogue)
        if index is None:
            return _invalid(f"option {letter.group(1)!r} is not one of {''.join(catalogue.letters)}")
        return ParsedAnswer(one_hot(index, catalogue.size, label_smoothing))
    named = {i for i, skill in enumerate(catalogue.skills)
             if re.search(rf"(?<![\w-]){re.escape(skill)}(?![\w-])", text, re.I)}
    if len(named) == 1:
        return ParsedAnswer(one_hot(named.pop(), catalogue.size, label_smoothing))
    if named:
        return _invalid(f"answer names several experts {sorted(catalogue.skills[i] for i in named)} without weights")
    return _invalid("answer names no catalogue expert")
