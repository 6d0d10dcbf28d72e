"""Scripts that print the figures in docs/performance.md; run each from the repository
root as a module (`python -m benchmarks.serving`), so that they find tests/helpers."""
