"""benchmarks/reference_oracle.py needs a checkout of the PLUG repository and PyPI, so CI
runs only what it does without them (docs/evaluation.md has its output)."""

import pytest

from benchmarks import reference_oracle


def test_a_folder_that_is_not_the_plug_repository_is_named_before_anything_is_installed(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    venv = tmp_path / "venv"
    with pytest.raises(SystemExit) as exit_info:
        reference_oracle.main(["--plug-repo", str(tmp_path), "--venv", str(venv)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert (
        f"{tmp_path} is not a checkout of the PLUG repository: no src/evaluate/x-alpacaeval/llm_judge/llm_judge.py"
        in error
    )
    assert not venv.exists()


def test_a_difference_is_shown_where_it_starts():
    theirs = {"model": "gpt-4", "messages": [{"role": "user", "content": "Question: a\nb"}]}
    ours = {"model": "gpt-4", "messages": [{"role": "user", "content": "Question: a\n\nb"}]}
    shown = reference_oracle.first_difference(theirs, ours)
    # the JSON text `[{"role": "user", "content": "Question: a\n` is 43 characters; then theirs
    # goes on with `b` and ours with a second `\n`; 40 characters either side are shown
    assert shown == (
        "'messages' differs at character 43: "
        'theirs ...role": "user", "content": "Question: a\\nb"}]... '
        'ours ...role": "user", "content": "Question: a\\n\\nb"}]...'
    )
    assert reference_oracle.first_difference(theirs, dict(theirs)) == "identical"
