"""`python -m axolotl_plug audit ...`: the same commands as `axolotl plug ...`."""

from axolotl_plug.cli import main

main()
