"""plug.json: the PLUG settings that inference needs, saved next to the trained model.

At the end of training the plugin writes it into `output_dir`, beside the weights and
the tokenizer, so that `generate --model-dir`, serving and the reasoning parser know the
languages, mode, order, headers and system prompt without the training config.
"""

from __future__ import annotations

import json
from pathlib import Path

from axolotl_plug import __version__
from axolotl_plug.args import PlugConfig

PLUG_JSON = "plug.json"
PER_ROW = "per row"  # the rows named their target language; a request must say which
KEYS = (
    "target_language",
    "pivot_language",
    "mode",
    "order",
    "include_pivot_instruction",
    "headers",
    "system_prompt",
    "strip_fields",
    "pivot_channel",
    "thinking_markers",
)


def write_settings(folder: str | Path, config: PlugConfig, sequence_len: int | None) -> Path:
    data = config.model_dump(mode="json", include=set(KEYS), exclude_none=False)
    data["target_language"] = data["target_language"] or PER_ROW
    data = {"axolotl_plug": __version__, **data, "sequence_len": sequence_len}
    path = Path(folder) / PLUG_JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def settings_path(folder: str | Path) -> Path:
    """Where a model folder's plug.json is: in it, or one level up, where training wrote
    it when the folder is `axolotl merge-lora`'s `OUTPUT_DIR/merged`."""
    folder = Path(folder)
    for candidate in (folder / PLUG_JSON, folder.parent / PLUG_JSON):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{folder / PLUG_JSON} not found (nor one level up): it is written at the end of training by "
        "axolotl-plug; for a model trained before it existed, pass the training config instead"
    )


def read_settings(folder: str | Path) -> tuple[PlugConfig, int | None]:
    """The PLUG settings and sequence_len a model was trained with (see `settings_path`)."""
    path = settings_path(folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        settings = {key: data[key] for key in KEYS if key in data}
    except (json.JSONDecodeError, TypeError):
        raise ValueError(f"{path}: not a plug.json written by axolotl-plug") from None
    if settings.get("target_language") == PER_ROW:
        settings["target_language"] = None
    return PlugConfig.model_validate(settings), data.get("sequence_len")
