"""Registers the ``dask`` executor; its params are the keys of ``executor:`` besides ``name``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cellxai_core.hookspecs import Register, hookimpl


class DaskParams(BaseModel):
    """``executor: {name: dask, address: null | tcp://HOST:PORT, workers: 2, threads_per_worker: 1}``."""

    model_config = ConfigDict(extra="forbid")
    address: str | None = Field(None, description="tcp://HOST:PORT of a running dask scheduler; null starts a LocalCluster")
    workers: int = Field(2, ge=1, description="worker processes of the LocalCluster (address null)")
    threads_per_worker: int = Field(1, ge=1, description="threads of each LocalCluster worker (torch threads on it)")
    retries: int = Field(2, ge=0, description="times a chunk that raised is retried (a killed worker's chunk is rescheduled)")
    timeout: float = Field(10.0, gt=0, description="seconds to wait for the scheduler at `address`")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        scheme, sep, rest = (value or "").partition("://")
        host, _, port = rest.rpartition(":")
        if value is None or (sep and scheme in ("tcp", "tls", "ucx") and host and port.isdigit() and int(port) < 65536):
            return value
        raise ValueError("expected tcp://HOST:PORT (or null to start a local cluster)")


@hookimpl
def cellxai_executors(register: Register) -> None:
    register("dask", summary="One Dask task per chunk: a LocalCluster of worker processes, or a running scheduler.",
             params=DaskParams, target="cellxai_dask.executor:DaskExecutor")
