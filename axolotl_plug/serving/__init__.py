"""Serving a PLUG model: users see the target answer, streamed.

split        pure: a stream of text deltas -> pivot deltas and target deltas
settings     plug.json: what serving needs to know, saved next to the model
proxy        `axolotl plug serve`: an OpenAI-compatible proxy in front of any engine
chat         `axolotl plug chat`: an interactive terminal chat
"""
