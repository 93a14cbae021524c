"""Prediction: loading snapshots, analysing videos, evaluating networks."""
