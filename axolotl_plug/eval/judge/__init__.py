"""Pairwise LLM-judge comparison with the paper's protocol (both answer orders)."""
