"""Evaluation: pure metrics, the training callback, and prompt sources."""
