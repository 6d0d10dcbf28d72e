"""`axolotl plug chat`: talk to a trained PLUG model in the terminal, as its users would
see it: the prompt training used, greedy decoding (or --temperature), and only the target answer, streamed
through the same splitter as `plug serve` (the pivot sections dimmed with --show-pivot).

Each message starts a new conversation, as each training row did. After each answer a
status line gives the extraction status, the tokens generated and tokens per second.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from threading import Thread
from typing import TextIO

from axolotl_plug.args import PlugConfig
from axolotl_plug.eval.generation import answer_budget, pad_token_id, prompt_ids
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.prompt import prompt_messages

DIM, RESET = "\x1b[2m", "\x1b[0m"


@dataclass(frozen=True)
class Turn:
    target: str
    status: str
    tokens: int
    seconds: float

    def status_line(self) -> str:
        rate = self.tokens / self.seconds if self.seconds > 0 else 0.0
        return f"[{self.status} · {self.tokens} tokens · {rate:.1f} tokens/s]"


def answer(
    model,
    tokenizer,
    instruction: str,
    lang: str,
    config: PlugConfig,
    write: Callable[[str, bool], None],
    *,
    max_new_tokens: int | None = None,
    sequence_len: int | None = None,
    temperature: float = 0.0,
) -> Turn:
    """Generate one answer, calling `write(text, is_pivot)` as text becomes showable. The
    token limit is `max_new_tokens`, else what `sequence_len` leaves after the prompt."""
    import torch
    from transformers import TextIteratorStreamer

    ids = prompt_ids(tokenizer, prompt_messages(instruction, lang, config))
    limit = answer_budget(len(ids), max_new_tokens, sequence_len)
    if limit < 1:
        return Turn("", "prompt fills sequence_len", 0, 0.0)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    result: dict = {}

    def run() -> None:
        try:
            with torch.inference_mode():
                result["ids"] = model.generate(
                    input_ids=torch.tensor([ids], device=model.device),
                    attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=model.device),
                    max_new_tokens=limit,
                    streamer=streamer,
                    use_cache=True,
                    pad_token_id=pad_token_id(tokenizer),
                    **sampling,
                )
        except BaseException as exc:  # shown in the main thread
            result["error"] = exc
            streamer.end()

    answer_format = AnswerFormat.from_config(config, lang)
    splitter = answer_format.splitter()
    # the thinking comes without its markers: a blank line (shown with the pivot) sets the answer apart
    gap = ["\n\n"] if answer_format.reasoning else []

    def show(split) -> None:
        if split.pivot:
            write(split.pivot, True)
        if split.target:
            if gap and splitter.pivot:
                write(gap.pop(), True)
            write(split.target, False)

    start = time.perf_counter()
    thread = Thread(target=run, daemon=True)
    thread.start()
    for text in streamer:
        show(splitter.feed(text))
    show(splitter.close())
    thread.join()
    seconds = time.perf_counter() - start
    if "error" in result:
        raise result["error"]
    tokens = result["ids"].shape[1] - len(ids)
    return Turn(splitter.target, splitter.status, tokens, seconds)


def chat_loop(
    model,
    tokenizer,
    config: PlugConfig,
    lang: str | None,
    *,
    show_pivot: bool = False,
    max_new_tokens: int | None = None,
    sequence_len: int | None = None,
    temperature: float = 0.0,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Read instructions line by line until EOF or `exit`; answer each. stdin and stdout
    are the process's at the call (not at import: click's runner swaps them)."""
    from axolotl_plug.format.langid import identify_target

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    interactive = stdin.isatty()
    dim = stdout.isatty()

    def write(text: str, is_pivot: bool) -> None:
        if is_pivot and not show_pivot:
            return
        stdout.write(f"{DIM}{text}{RESET}" if is_pivot and dim else text)
        stdout.flush()

    stdout.write(
        f"plug chat · target language {lang or config.target_language or 'per message'} · "
        f"{'greedy' if temperature <= 0 else f'temperature {temperature}'} · exit or Ctrl-D to quit\n"
    )
    while True:
        if interactive:
            stdout.write("\n> ")
            stdout.flush()
        line = stdin.readline()
        if not line or line.strip() in ("exit", "quit"):
            return
        instruction = line.strip()
        if not instruction:
            continue
        target = lang or config.target_language or identify_target(instruction, config)
        if target is None:
            stdout.write("[cannot tell the language of that message: start with --lang]\n")
            continue
        turn = answer(
            model,
            tokenizer,
            instruction,
            target,
            config,
            write,
            max_new_tokens=max_new_tokens,
            sequence_len=sequence_len,
            temperature=temperature,
        )
        stdout.write(f"\n{turn.status_line()}\n")
        stdout.flush()
