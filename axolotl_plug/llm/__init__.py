"""Requests to chat models: the one OpenAI-compatible client, and the runner that sends
many at once and appends each result as it arrives."""
