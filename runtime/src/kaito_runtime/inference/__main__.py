"""``python -m kaito_runtime.inference``: starts the inference server (see ``main``)."""

from kaito_runtime.inference.main import main

main()
