"""What happens to a model after the pipeline: the gate and PR report, release and deployment,
drift and live-quality monitoring, retraining, data intake and tuning.
"""
