"""What the tests share besides fixtures (those are in conftest.py): rows, models,
commands, a fake OpenAI-compatible engine, real servers and real tokenizers."""
