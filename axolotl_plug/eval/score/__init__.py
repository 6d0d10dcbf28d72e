"""Scoring benchmark answers against their references: X-SVAMP (the final number) and
X-TruthfulQA (a judge model's truthfulness and informativeness verdicts), with the
reference scripts' rules."""
