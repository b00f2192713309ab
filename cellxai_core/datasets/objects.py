"""Object classes a dataset declares (DESIGN §4): what is segmented, counted, measured and named.

A class is found either in one channel (fluorescence: ``nucleus`` in DAPI) or, in RGB images,
by a hue range and / or a saturation range (microwells: cancer = green hue, T cell = red hue,
dead = low saturation). Pseudo-labels, measured features, text and report take their names
from here, so no code outside a dataset's own declaration names a cell type.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from ..errors import UserError


class ObjectClass(BaseModel):
    """One named object class and where it is found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="Identifier used in feature columns and store attrs (lower case, digits, _): nucleus, t_cell.",
    )
    label: str | None = Field(default=None, description="Plain-language name for text and report; default: name with spaces.")
    channel: int | str | None = Field(default=None, description="Channel (name or 0-based index) the objects are bright in.")
    hue: tuple[float, float] | None = Field(
        default=None, description="RGB images: hue range in degrees [low, high); low > high wraps through 0 (red: [300, 40])."
    )
    saturation: tuple[float, float] | None = Field(
        default=None, description="RGB images: HSV saturation range [low, high] (pale dead cells: [0, 0.3])."
    )
    diameter: float | Literal["auto"] = Field(
        default="auto", description="Expected object diameter in pixels, or auto (estimated from the images and stored)."
    )

    @model_validator(mode="after")
    def _one_way_to_find(self) -> "ObjectClass":
        colour = self.hue is not None or self.saturation is not None
        if (self.channel is not None) == colour:
            raise ValueError(f"object '{self.name}': give either channel, or hue and / or saturation (RGB)")
        if isinstance(self.channel, int) and self.channel < 0:
            raise ValueError(f"object '{self.name}': channel index must be >= 0")
        if self.hue is not None and not all(0 <= h <= 360 for h in self.hue):
            raise ValueError(f"object '{self.name}': hue must lie in [0, 360] degrees, got {self.hue}")
        if self.saturation is not None and not 0 <= self.saturation[0] <= self.saturation[1] <= 1:
            raise ValueError(f"object '{self.name}': saturation must be 0 <= low <= high <= 1")
        if self.diameter != "auto" and not 1 <= float(self.diameter) <= 10_000:
            raise ValueError(f"object '{self.name}': diameter must be auto or 1 .. 10000 px")
        return self

    @property
    def display(self) -> str:
        """The name a sentence uses."""
        return self.label or self.name.replace("_", " ")

    def channel_index(self, channels: Sequence[str]) -> int:
        """The channel's index among ``channels`` (by name or index); a clear error when absent."""
        if isinstance(self.channel, int):
            if self.channel >= len(channels):
                raise UserError(f"object '{self.name}': channel {self.channel} but images have {len(channels)}")
            return self.channel
        lowered = [c.lower() for c in channels]
        if str(self.channel).lower() not in lowered:
            raise UserError(f"object '{self.name}': no channel '{self.channel}' among {', '.join(channels)}")
        return lowered.index(str(self.channel).lower())


_OBJECTS = TypeAdapter(tuple[ObjectClass, ...])


def parse_objects(value: Iterable[Any] | None) -> tuple[ObjectClass, ...] | None:
    """Objects from a pipeline file's list of mappings (or ObjectClass instances); names must be unique."""
    if value is None:
        return None
    objects = _OBJECTS.validate_python(tuple(value))
    names = [o.name for o in objects]
    if len(set(names)) != len(names):
        raise ValueError(f"object names must be unique, got {names}")
    if not objects:
        raise ValueError("objects: give at least one object class, or leave it out")
    return objects


def default_objects(channels: Sequence[str]) -> tuple[ObjectClass, ...]:
    """What a reader declares when the user gives no ``objects``: one class ``object`` in channel 0."""
    return (ObjectClass(name="object", channel=0),)


def dataset_objects(ds: Any) -> tuple[ObjectClass, ...]:
    """A dataset's declared object classes (``ds.objects``), or the default for its channels."""
    objects = getattr(ds, "objects", None)
    return tuple(objects) if objects else default_objects(getattr(ds, "channels", ()))


def objects_param_doc() -> str:
    """The description readers give their ``objects`` param."""
    return (
        "Object classes to segment, count and name: [{name, channel | hue / saturation, diameter}] "
        "(e.g. [{name: nucleus, channel: DAPI, diameter: auto}]); default: one class 'object' in channel 0."
    )
