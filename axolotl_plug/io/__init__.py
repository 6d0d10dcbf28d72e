"""Requests and files: the one OpenAI-compatible client, the runner that sends many
requests at once and appends each result as it arrives, and the records every long job
writes, resumes and reads back."""
