"""The contract both sides share: features, params, errors, metrics, drift statistics, the bundle.

`api/` imports only this layer, and this layer imports nothing of the others (tests/test_layers.py).
"""
