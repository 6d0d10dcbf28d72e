"""Multi-turn benchmark rows (MT-Bench's `turns`): `generate` answers turn by turn on a
serving engine, each turn after the target answers to the ones before, and resumes per
turn; `judge --turn 2` compares the two systems' conversations on that turn against a
judge on 127.0.0.1; `report` shows the turn."""

from __future__ import annotations

import json
import shutil

from axolotl_plug.args import PlugConfig
from axolotl_plug.serving.settings import write_settings
from tests.helpers.commands import plug_in_process
from tests.helpers.engine import FakeEngine
from tests.helpers.rows import write_jsonl

SYSTEM = "Please interpret the instruction in English, and then respond both in English and in Chinese."
QUESTIONS = {"m1": ["推荐一本书。", "为什么？"], "m2": ["今天吃什么？", "再推荐一个。"]}
SINGLE = "天空是什么颜色？"
# each system's Chinese answer to each user message
TARGETS = {
    "a": {
        "推荐一本书。": "《红楼梦》。",
        "为什么？": "它写尽了人情。",
        "今天吃什么？": "饺子。",
        "再推荐一个。": "面条。",
    },
    "b": {"推荐一本书。": "一本书。", "为什么？": "因为好。", "今天吃什么？": "米饭。", "再推荐一个。": "米饭。"},
}
TARGETS["a"][SINGLE] = TARGETS["b"][SINGLE] = "蓝色。"


def reply(system: str, question: str) -> str:
    """What the engine of `system` writes: a PLUG answer whose target is TARGETS."""
    return f"English instruction:\nQ\n\nEnglish response:\nA\n\n中文回复：\n{TARGETS[system][question]}"


def bench(tmp_path):
    rows = [{"id": rid, "turns": turns, "lang": "zh"} for rid, turns in QUESTIONS.items()]
    return write_jsonl(tmp_path / "bench.jsonl", [*rows, {"id": "s1", "instruction": SINGLE, "lang": "zh"}])


def model_folder(tiny_model_dir, tmp_path):
    folder = shutil.copytree(tiny_model_dir, tmp_path / "model")
    write_settings(folder, PlugConfig(target_language="zh"), 512)
    return folder


def generate(model_dir, instructions, url, output):
    """`generate` against an engine, through click's runner (what it asks and writes)."""
    return plug_in_process(
        "generate", "--model-dir", str(model_dir), "--instructions", str(instructions), "--base-url", url,
        "--max-new-tokens", "64", "--output", str(output), "--concurrency", "2", "--generator", output.stem,
    )  # fmt: skip


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_generate_answers_turn_by_turn_with_target_history_and_resumes_per_turn(tiny_model_dir, tmp_path):
    model_dir, instructions, output = model_folder(tiny_model_dir, tmp_path), bench(tmp_path), tmp_path / "a.jsonl"

    def down_for_second_turns(body, number):
        if len(body["messages"]) > 2:  # a second turn: its history is in the prompt
            return (400, "the engine refuses")
        return reply("a", body["messages"][-1]["content"])

    with FakeEngine(down_for_second_turns) as server:
        failed = generate(model_dir, instructions, server.url, output)
    assert failed.returncode != 0 and "HTTP 400" in failed.stderr  # a client error stops the run
    assert sorted((r["id"], r.get("turn")) for r in lines(output)) == [("m1", 1), ("m2", 1), ("s1", None)]

    with FakeEngine(lambda body, number: reply("a", body["messages"][-1]["content"])) as server:
        resumed = generate(model_dir, instructions, server.url, output)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # only the two second turns were asked, each after its first turn and the target answer to it
    prompts = sorted((request["body"]["messages"] for request in server.requests), key=json.dumps)
    assert prompts == sorted(
        (
            [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": first},
                {"role": "assistant", "content": TARGETS["a"][first]},  # the target answer, not the whole PLUG answer
                {"role": "user", "content": second},
            ]
            for first, second in QUESTIONS.values()
        ),
        key=json.dumps,
    )
    written = {(r["id"], r.get("turn")): r for r in lines(output)}
    assert sorted(written) == [("m1", 1), ("m1", 2), ("m2", 1), ("m2", 2), ("s1", None)]
    for (rid, turn), row in written.items():
        question = QUESTIONS[rid][turn - 1] if turn else SINGLE
        assert (row["instruction"], row["output"], row["status"]) == (question, TARGETS["a"][question], "ok")
        assert row["raw_output"] == reply("a", question)


def test_judge_compares_the_two_conversations_on_the_second_turn(tiny_model_dir, tmp_path, monkeypatch):
    model_dir, instructions = model_folder(tiny_model_dir, tmp_path), bench(tmp_path)
    files = {}
    for system in ("a", "b"):
        files[system] = tmp_path / f"{system}.jsonl"
        with FakeEngine(lambda body, number, system=system: reply(system, body["messages"][-1]["content"])) as server:
            assert generate(model_dir, instructions, server.url, files[system]).returncode == 0

    def judge(body, number):  # prefers system a's conversation, wherever it sits
        conversation_a = body["messages"][-1]["content"].split("[Conversation with Assistant B]")[0]
        return "A is better.\n[[A]]" if "它写尽了人情。" in conversation_a or "面条。" in conversation_a else "[[B]]"

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeEngine(judge) as server:
        result = plug_in_process(
            "judge", "--instructions", str(instructions), "--a", str(files["a"]), "--b", str(files["b"]),
            "--turn", "2", "--judge-model", "judge", "--base-url", server.url, "--output", str(tmp_path / "judge"),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    # two multi-turn items, both orders; the single-turn item has no second turn
    assert len(server.requests) == 4
    contents = [request["body"]["messages"][-1]["content"] for request in server.requests]
    conversation_a = "[User, turn 1]\n推荐一本书。\n\n[Assistant, turn 1]\n《红楼梦》。\n\n[User, turn 2]\n为什么？\n\n[Assistant, turn 2]\n它写尽了人情。"
    conversation_b = "[User, turn 1]\n推荐一本书。\n\n[Assistant, turn 1]\n一本书。\n\n[User, turn 2]\n为什么？\n\n[Assistant, turn 2]\n因为好。"
    for first, second in ((conversation_a, conversation_b), (conversation_b, conversation_a)):  # both orders
        tail = f"[Conversation with Assistant A]\n{first}\n\n[Conversation with Assistant B]\n{second}"
        assert sum(content.endswith(tail) for content in contents) == 1
    assert all("the user's last message (turn 2)" in content for content in contents)

    summary = json.loads((tmp_path / "judge" / "summary.json").read_text())
    assert (summary["turn"], summary["n"], summary["a"]["wins"], summary["b"]["wins"]) == (2, 2, 2, 0)
    assert "# a vs b, turn 2" in (tmp_path / "judge" / "summary.md").read_text()

    report = plug_in_process("report", str(tmp_path / "judge"), "--output", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr[-2000:]
    assert "100.0 / 0.0 / 0.0 vs b (turn 2)" in (tmp_path / "report" / "report.md").read_text()


def test_the_callback_asks_a_later_turn_after_the_target_answer_to_the_earlier(tiny_tokenizer, tmp_path):
    """The evaluation callback's rows from a benchmark file with one reference per turn:
    turn 1 first, then turn 2, whose prompt is the chat template over the system turn, the
    first question, the model's target answer to it (not its whole PLUG answer), and the
    second question; each turn keeps its own reference."""
    from axolotl_plug.eval.callback import next_turn, prepare_records
    from axolotl_plug.eval.metrics import score_answer

    bench = write_jsonl(
        tmp_path / "bench.jsonl",
        [{"id": "m1", "lang": "zh", "turns": QUESTIONS["m1"], "reference": ["参考一", "参考二"]}],
    )
    config = PlugConfig(target_language="zh", eval={"instructions": str(bench), "num_samples": 1})
    (record,) = prepare_records(config, tiny_tokenizer, None)
    assert (record["turn"], record["instruction"], record["reference"]) == (1, "推荐一本书。", "参考一")
    answer = score_answer(record, reply("a", QUESTIONS["m1"][0]), config, {"zh", "en"})
    second = next_turn(record, answer, tiny_tokenizer, config, None)
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "推荐一本书。"},
        {"role": "assistant", "content": "《红楼梦》。"},
        {"role": "user", "content": "为什么？"},
    ]
    text = tiny_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert second["prompt_ids"] == tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert (second["turn"], second["instruction"], second["reference"]) == (2, "为什么？", "参考二")


MULTI_TURN_PROMPTS = [  # FastChat's judge-prompt format, with text of our own
    {
        "name": "pair-v2",
        "type": "pairwise",
        "system_prompt": "Compare.",
        "prompt_template": "Q: {question}\nA: {answer_a}\nB: {answer_b}",
        "output_format": "[[A]]",
        "description": "ours",
        "category": "general",
    },
    {
        "name": "pair-v2-multi-turn",
        "type": "pairwise",
        "system_prompt": "Compare the second turns.",
        "prompt_template": "Q1 {question_1}|A1 {answer_a_1}|Q2 {question_2}|A2 {answer_a_2}|B1 {answer_b_1}|B2 {answer_b_2}",
        "output_format": "[[A]]",
        "description": "ours",
        "category": "general",
    },
]


def test_paper_protocol_judges_a_second_turn_as_fastchat_fills_its_multi_turn_prompt(tiny_model_dir, tmp_path):
    """`--protocol paper --turn 2`: FastChat's run_judge_pair(multi_turn=True) request
    for each two-turn item, in both orders: question_1/2 and answer_a_1/2, answer_b_1/2
    put in the pair-v2-multi-turn template by str.format, exactly as the files hold them;
    `--turn 1`: the single-turn prompt on the first turn."""
    model_dir, files = model_folder(tiny_model_dir, tmp_path), {}
    rows = [{"id": rid, "turns": turns, "lang": "zh"} for rid, turns in QUESTIONS.items()]
    rows.append({"id": "m3", "turns": ["一。", "二。", "三。"], "lang": "zh"})  # FastChat skips a three-turn item
    targets = {
        "a": {**TARGETS["a"], "一。": "1 {question_1}", "二。": "{2}", "三。": "3"},  # braces stay as they are
        "b": {**TARGETS["b"], "一。": "one", "二。": "two", "三。": "three"},
    }
    instructions = write_jsonl(tmp_path / "bench.jsonl", rows)
    for system in ("a", "b"):
        files[system] = tmp_path / f"{system}.jsonl"

        def engine(body, number, system=system):
            return f"English response:\nA\n\n中文回复：\n{targets[system][body['messages'][-1]['content']]}"

        with FakeEngine(engine) as server:
            assert generate(model_dir, instructions, server.url, files[system]).returncode == 0
    prompts = write_jsonl(tmp_path / "judge_prompts.jsonl", MULTI_TURN_PROMPTS)

    def judge(turn: str):
        with FakeEngine(lambda body, number: "[[A]]") as server:
            result = plug_in_process(
                "judge", "--instructions", str(instructions), "--a", str(files["a"]), "--b", str(files["b"]),
                "--turn", turn, "--protocol", "paper", "--prompt-file", str(prompts), "--judge-model", "gpt-4",
                "--base-url", server.url, "--output", str(tmp_path / f"judge-{turn}"),
            )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        return sorted(json.dumps(r["body"], sort_keys=True) for r in server.requests)

    def request(system: str, user: str) -> str:
        body = {"model": "gpt-4", "n": 1, "temperature": 0, "top_p": 0, "max_tokens": 1024}
        body["messages"] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return json.dumps(body, sort_keys=True)

    template = MULTI_TURN_PROMPTS[1]["prompt_template"]
    expected = []
    for first, second in QUESTIONS.values():
        a = [targets["a"][first], targets["a"][second]]
        b = [targets["b"][first], targets["b"][second]]
        for x, y in ((a, b), (b, a)):
            user = f"Q1 {first}|A1 {x[0]}|Q2 {second}|A2 {x[1]}|B1 {y[0]}|B2 {y[1]}"
            assert user == template.format(
                question_1=first, question_2=second, answer_a_1=x[0], answer_b_1=y[0], answer_a_2=x[1], answer_b_2=y[1]
            )
            expected.append(request("Compare the second turns.", user))
    assert judge("2") == sorted(expected)

    expected = []
    for turns in [*QUESTIONS.values(), ["一。"]]:  # every item has a first turn
        x, y = targets["a"][turns[0]], targets["b"][turns[0]]
        expected += [
            request("Compare.", f"Q: {turns[0]}\nA: {x}\nB: {y}"),
            request("Compare.", f"Q: {turns[0]}\nA: {y}\nB: {x}"),
        ]
    assert judge("1") == sorted(expected)


def test_in_process_generate_answers_the_second_turn_after_the_first_target(plug_trained, tmp_path):
    """`generate` in this process on the PLUG-trained model: the second turn's answer is
    the model's greedy answer to the conversation with its own first target answer."""
    from axolotl_plug.config import read_config
    from axolotl_plug.eval.generation import load_for_generation
    from axolotl_plug.format.prompt import prompt_messages
    from tests.helpers.models import generate_answers
    from tests.helpers.rows import ROWS

    config_path, model_dir, _ = plug_trained
    _, config = read_config(config_path)
    turns = [ROWS[0]["instruction"], ROWS[2]["instruction"]]
    instructions = write_jsonl(tmp_path / "bench.jsonl", [{"id": 7, "turns": turns, "lang": "zh"}])
    output = tmp_path / "answers.jsonl"
    result = plug_in_process(
        "generate", str(config_path), "--instructions", str(instructions), "--max-new-tokens", "60",
        "--output", str(output),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = lines(output)
    assert (first["id"], first["turn"], second["id"], second["turn"]) == (7, 1, 7, 2)

    model, tokenizer = load_for_generation(model_dir)
    prompts = [
        prompt_messages(turns[0], "zh", config),
        prompt_messages(turns[1], "zh", config, history=[(turns[0], first["output"])]),
    ]
    expected = [a.text for a in generate_answers(model, tokenizer, prompts, max_new_tokens=60, batch_size=1)]
    assert [first["raw_output"], second["raw_output"]] == expected
    assert prompts[1][2] == {"role": "assistant", "content": first["output"]}
