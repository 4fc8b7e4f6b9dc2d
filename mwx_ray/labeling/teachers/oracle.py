"""``oracle``: the privileged stage teacher — the expert the task's active stage calls for.

An upper bound for ablations (perfect stage knowledge, no vision) and the offline default when no VLM weights
are available. Labels are one-hot (optionally smoothed by ``teacher.label_smoothing``). A stage skill missing
from the catalogue cannot be labeled: that row is a counted fallback (uniform), not an error.
"""

from __future__ import annotations

from mwx_ray.labeling.teachers.base import FrameBatch, Teacher, TeacherAnswer, answer_from_rows, one_hot


class OracleTeacher(Teacher):
    backend = "oracle"

    def label_batch(self, batch: FrameBatch) -> TeacherAnswer:
        k, eps = self.catalogue.size, self.settings.label_smoothing
        rows, reasons = [], []
        for skill in batch.stage_skills:
            if skill in self.catalogue.skills:
                rows.append(one_hot(self.catalogue.index(skill), k, eps))
                reasons.append("")
            else:
                rows.append(None)
                reasons.append(f"stage skill {skill!r} is not in the catalogue")
        return answer_from_rows(rows, reasons, list(batch.stage_skills), k)

    @classmethod
    def model_id_for(cls, settings) -> str:
        return "stage-oracle"

    @classmethod
    def prompt_payload_for(cls, catalogue, settings):
        return {"catalogue": catalogue.to_json(), "label_smoothing": settings.label_smoothing}
