"""PlugEvalCallback: at each evaluation, generate answers and score the PLUG format.

Every rank generates its shard of the prompts inside trl's unwrap-for-generation
context (ZeRO-3 and FSDP need every rank in every forward pass); the answers are
gathered to every rank, rank 0 writes the step file, and every rank logs the same
metrics through `trainer.log` so they reach the console and any tracker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from axolotl.utils.logging import get_logger
from transformers import TrainerCallback

from axolotl_plug.eval.answers import turn_record
from axolotl_plug.eval.generation import generate_from_ids, prompt_ids
from axolotl_plug.eval.metrics import ScoredAnswer, languages_in_play, metrics_by_language, score_answer
from axolotl_plug.eval.sources import eval_split_records
from axolotl_plug.format.prompt import prompt_messages
from axolotl_plug.io.records import load_instructions, write_jsonl

LOG = get_logger(__name__)


def generate_sharded(
    model_wrapped, accelerator, tokenizer, prompts: Sequence[list[int]], *, max_new_tokens: int, batch_size: int
) -> list[tuple[int, str, int]]:
    """`(index, answer, rank)` for every prompt, generated across ranks and gathered.

    Each rank takes every world-th prompt; short shards are padded with a repeat so all
    ranks make the same number of generate calls (no rank waits on another forever)."""
    from accelerate.utils import gather_object
    from trl.models.utils import unwrap_model_for_generation

    rank, world = accelerator.process_index, accelerator.num_processes
    shard = list(range(rank, len(prompts), world))
    per_rank = math.ceil(len(prompts) / world) if prompts else 0
    padded = shard + [shard[-1] if shard else 0] * (per_rank - len(shard))
    answers: list[str] = []
    if padded:
        with unwrap_model_for_generation(model_wrapped, accelerator) as model:
            answers = [
                answer.text
                for answer in generate_from_ids(
                    model, tokenizer, [prompts[i] for i in padded], max_new_tokens=max_new_tokens, batch_size=batch_size
                )
            ]
    mine = [(index, answer, rank) for index, answer in zip(shard, answers)]
    gathered = gather_object(mine) if world > 1 else mine
    return sorted(gathered)


def prepare_records(config, tokenizer, chat_template: str | None, eval_dataset=None) -> list[dict[str, Any]]:
    """The prompts of one evaluation, each with its `prompt_ids`, built by the same
    code that builds training prompts."""
    settings = config.eval
    if settings.instructions:
        records = load_instructions(settings.instructions, settings.split, config.target_language)
        records = records[: settings.num_samples]
        # a multi-turn row starts at its first turn; the row itself stays with it, for the turns after
        records = [{**turn_record(r, 1, []), "row": r} if r.get("turns") else r for r in records]
        for record in records:
            messages = prompt_messages(record["instruction"], record["lang"], config)
            record["prompt_ids"] = prompt_ids(tokenizer, messages, chat_template)
        return records
    if eval_dataset is None or len(eval_dataset) == 0:
        raise ValueError(
            "plug.eval needs prompts: set plug.eval.instructions, or give the run an eval "
            "split (val_set_size or test_datasets)"
        )
    return eval_split_records(eval_dataset, tokenizer, config, settings.num_samples)


def next_turn(record: dict, answer: ScoredAnswer, tokenizer, config, chat_template: str | None) -> dict:
    """The next turn of a multi-turn record: its user message, after the earlier turns
    with the target answers the model gave (what a client shows and sends back)."""
    history = [*record["history"], (record["instruction"], answer.target)]
    following = {**turn_record(record["row"], record["turn"] + 1, history), "row": record["row"]}
    messages = prompt_messages(following["instruction"], following["lang"], config, history=history)
    return {**following, "prompt_ids": prompt_ids(tokenizer, messages, chat_template)}


def evaluate_records(
    model_wrapped, accelerator, tokenizer, records, config, chat_template: str | None = None
) -> list[ScoredAnswer]:
    """Generate, gather and score; the same list on every rank. The later turns of
    multi-turn rows are asked after the earlier ones, turn by turn."""
    settings = config.eval
    languages = languages_in_play(records, config)
    scored: list[ScoredAnswer] = []
    level = records
    while level:
        answers = generate_sharded(
            model_wrapped,
            accelerator,
            tokenizer,
            [r["prompt_ids"] for r in level],
            max_new_tokens=settings.max_new_tokens,
            batch_size=settings.batch_size,
        )
        results = [score_answer(level[index], answer, config, languages, rank) for index, answer, rank in answers]
        scored += results
        level = [
            next_turn(record, result, tokenizer, config, chat_template)
            for record, result in zip(level, results)
            if "row" in record and len(record["row"]["turns"]) > record["turn"]
        ]
    return scored


def write_step_file(folder: Path, step: int, scored: list[ScoredAnswer]) -> Path:
    path = folder / f"step_{step}.jsonl"
    write_jsonl(path, (s.to_dict() for s in scored))
    return path


class PlugEvalCallback(TrainerCallback):
    """Generates at each evaluation; logs `plug/*` metrics and writes
    `{output_dir}/plug_eval/step_{N}.jsonl`."""

    def __init__(self, trainer, cfg, config, chat_template: str | None):
        self.trainer = trainer
        self.config = config
        self.chat_template = chat_template
        self.folder = Path(cfg.output_dir) / "plug_eval"
        self._records: list[dict] | None = None

    def on_evaluate(self, args, state, control, **kwargs):
        trainer = self.trainer
        tokenizer = trainer.processing_class
        started = time.monotonic()
        if self._records is None:
            self._records = prepare_records(self.config, tokenizer, self.chat_template, trainer.eval_dataset)
        scored = evaluate_records(
            trainer.model_wrapped, trainer.accelerator, tokenizer, self._records, self.config, self.chat_template
        )
        if state.is_world_process_zero:
            path = write_step_file(self.folder, state.global_step, scored)
            LOG.info(f"PLUG eval: {len(scored)} answers in {time.monotonic() - started:.1f} s -> {path}")
        trainer.log(metrics_by_language(scored, self.config.pivot_language, self.config.mode))
        return control
