"""The training data path, one module per step, in flow order:

    layout   row (+ settings) -> Conversation: chat messages, trained character spans
    render   answer layout and chat template -> the conversation as text (paste: speed)
    offsets  text -> token ids + each token's character offsets
    labels   trained spans + offsets -> labels; end-of-turn rules; fast path or stock
    thinking the chat template's thinking channel, for the pivot in it (pivot_channel: reasoning)
    strategy the axolotl dataset type (`load`): batches, bad rows, the audit's report
    host     the only module that touches axolotl's dataset machinery

Nothing is imported here, so `axolotl_plug.dataset.layout` stays free of torch and axolotl.
"""
