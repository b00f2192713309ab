"""The dask executor's params: addresses are tcp://HOST:PORT or null; importing the plugin imports no dask."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from cellxai_dask.plugin import DaskParams


@pytest.mark.parametrize("address", [None, "tcp://127.0.0.1:8786", "tcp://scheduler.cluster:1", "tls://h:443"])
def test_good_addresses(address):
    assert DaskParams(address=address).address == address


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "tcp://host", "tcp://:8786", "tcp://h:65536", "http://h:80", ""])
def test_bad_addresses(address):
    with pytest.raises(ValidationError, match="tcp://HOST:PORT"):
        DaskParams(address=address)


def test_plugin_import_is_cheap():
    code = "import sys, cellxai_dask.plugin; print(any(m.split('.')[0] in ('dask', 'distributed', 'torch') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
