"""axolotl-plug: PLUG (pivot-language guided generation, ACL 2024) for axolotl.

`import axolotl_plug` stays light: the plugin class (which imports axolotl) loads on
first use of `axolotl_plug.PlugPlugin`.
"""

__version__ = "0.1.0"

from .sections import Extraction, extract  # noqa: E402
from .languages import LANGUAGES, Language, get_language  # noqa: E402
from .dataset.layout import build_conversation, prompt_messages  # noqa: E402

__all__ = [
    "LANGUAGES",
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
        from .plugin import PlugPlugin

        return PlugPlugin
    if name == "preference":  # `type: plug` under `rl: dpo` (see dataset/preference.py)
        from .dataset.preference import loader

        return loader
    raise AttributeError(f"module 'axolotl_plug' has no attribute {name!r}")
