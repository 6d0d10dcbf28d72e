"""The PLUG answer format, pure (no torch, no axolotl): languages and their headers,
language identification, templates, prompt building, sections and extraction, and the
one `AnswerFormat` value that every reader and writer of answers takes."""
