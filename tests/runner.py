"""Run the cellxai CLI in a subprocess with the test components registered."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import core_plugin  # noqa: E402
from cellxai_core.cli import main  # noqa: E402
from cellxai_core.testing import use_plugins  # noqa: E402

if __name__ == "__main__":
    with use_plugins(core_plugin, installed=True):
        sys.exit(main(sys.argv[1:]))
