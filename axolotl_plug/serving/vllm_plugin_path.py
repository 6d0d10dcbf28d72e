"""`python -m axolotl_plug.serving.vllm_plugin_path` prints the file to give vLLM:
`vllm serve MODEL_DIR --reasoning-parser-plugin "$(python -m axolotl_plug.serving.vllm_plugin_path)" --reasoning-parser plug`."""

from pathlib import Path

PATH = Path(__file__).with_name("vllm_parser.py")

if __name__ == "__main__":
    print(PATH)
