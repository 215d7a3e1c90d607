"""The torch baseline: a benchmark fixture (not a shipped function) that runs the model as most Lambda
ML deployments do — the torch CPU wheel, the model rebuilt from its definition and a state dict, eager
fp32. `handler.py` is its Lambda handler; `export.py` writes its model folder from the build's factory.
"""
