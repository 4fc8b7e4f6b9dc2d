"""Labeling: rollout shards, teacher backends, and the Ray Data actor-pool pipeline that turns keyframes into
router supervision (a distribution over the K experts per frame).

    mwx rollouts collect <config>   -> labeling.rollouts:  shards.py (format), rollouts.py (policies, collector)
    mwx label <config>              -> pipeline.py (Ray Data), labeler.py (actor UDF), label_parts.py (parquet),
                                       teachers/ (oracle, text-prior, hf-vlm, openai), tracking.py (MLflow)

Only pipeline.py and the commands touch Ray; teachers load their models lazily when chosen.
"""
