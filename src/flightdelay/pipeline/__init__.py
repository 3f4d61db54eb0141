"""The DVC pipeline: one module per stage of `dvc.yaml`, each with `run(...)`.

A stage reads only its own params section and the files `dvc.yaml` declares for it
(tests/pipeline/test_dvc_yaml_truth.py); stages do not import each other.
"""
