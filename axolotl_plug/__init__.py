"""axolotl-plug: PLUG (pivot-language guided generation, ACL 2024) for axolotl.

`import axolotl_plug` stays light: it loads the answer format only. The plugin class
(which imports axolotl) and the training side load on first use of their names.
"""

__version__ = "0.1.0"

from axolotl_plug.format.answer import AnswerFormat, extract
from axolotl_plug.format.languages import LANGUAGES, Language, get_language
from axolotl_plug.format.prompt import prompt_messages
from axolotl_plug.format.sections import Extraction

__all__ = [
    "LANGUAGES",
    "AnswerFormat",
    "Extraction",
    "Language",
    "PlugPlugin",
    "build_conversation",
    "extract",
    "get_language",
    "prompt_messages",
]


def __getattr__(name):
    if name == "PlugPlugin":
        from axolotl_plug.plugin import PlugPlugin

        return PlugPlugin
    if name == "preference":  # `type: plug` under `rl: dpo` (see dataset/preference.py)
        from axolotl_plug.dataset.preference import loader

        return loader
    if name == "grpo":  # `type: plug` under `rl: grpo` (see dataset/grpo.py)
        from axolotl_plug.dataset.grpo import loader

        return loader
    if name == "build_conversation":
        from axolotl_plug.dataset.layout import build_conversation

        return build_conversation
    raise AttributeError(f"module 'axolotl_plug' has no attribute {name!r}")
