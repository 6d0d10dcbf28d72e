"""`python -m axolotl_plug audit ...`: the same commands as `axolotl plug ...`."""

from .cli import main

main()
