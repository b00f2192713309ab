"""Which files make up which sample: a CSV manifest, a file-name pattern, or one file per sample.

A manifest has the columns ``sample`` and ``path`` (relative to the manifest's folder),
optionally ``time`` or ``channel`` (the position in the sample's set: times sort
numerically, channels keep the order of their first rows), ``class`` and any
``Metadata_<key>`` columns (kept as meta ``<key>``). A pattern such as
``{plate}/{well}_{day}.tif`` matches paths relative to the folder: ``day``, ``time``,
``t``, ``frame`` or ``timepoint`` make the time axis, ``channel``, ``c``, ``ch`` or
``stain`` the channel axis; every other field names the sample (joined by ``_``) and
becomes a meta column. ``{field:d}`` matches digits only.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cellxai_core.errors import ConfigError, DataError

from .imageio import is_image

TIME_FIELDS = ("day", "time", "t", "frame", "timepoint")
CHANNEL_FIELDS = ("channel", "c", "ch", "stain")
MANIFEST_REQUIRED = ("sample", "path")
METADATA_PREFIX = "Metadata_"
_FIELD = re.compile(r"\{(\w+)(?::([^}]*))?\}")


@dataclass
class Group:
    """One sample: its id, the set values (days / channels) in order, their files, class and meta."""

    id: str
    keys: list[Any] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    klass: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Grouping:
    """All samples of a folder or manifest, and what the set axis of a sample is."""

    source: Path
    kind: str  # "time" | "channel" | "single"
    groups: list[Group]
    meta_keys: tuple[str, ...]


def _parse_scalar(text: str) -> int | float | str:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _column_values(values: list[str]) -> list[Any]:
    """Parse a column as int if every value is, else float if every value is, else keep strings."""
    for cast in (int, float):
        try:
            return [cast(v) for v in values]
        except ValueError:
            pass
    return list(values)


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def _finish(source: Path, kind: str, rows: list[dict[str, Any]], meta_keys: tuple[str, ...], ordered: bool) -> Grouping:
    """Group rows {sample, key, path, class, meta} into samples and check each is complete."""
    groups: dict[str, Group] = {}
    for row in rows:
        found = groups.get(row["sample"])
        group = found or Group(row["sample"], klass=row.get("class"), meta=row["meta"])
        groups[group.id] = group
        if row.get("class") != group.klass:
            raise DataError(f"{source}: sample {group.id} has two classes, {group.klass!r} and {row.get('class')!r}")
        if row["meta"] != group.meta:
            raise DataError(f"{source}: sample {group.id} has different metadata in different rows ({group.meta} vs {row['meta']})")
        if kind != "single" and row["key"] in group.keys:
            raise DataError(f"{source}: sample {group.id} lists {kind} {row['key']} twice ({row['path']})")
        if kind == "single" and group.paths:
            raise DataError(f"{source}: sample {group.id} has several files ({group.paths[0].name}, {row['path'].name}) but no time or channel to order them")
        group.keys.append(row["key"])
        group.paths.append(row["path"])
    out = list(groups.values())
    if not ordered:
        out.sort(key=lambda g: [_sort_key(v) for v in (*g.meta.values(), g.id)])
    first_seen = list(dict.fromkeys(k for g in out for k in g.keys))  # a manifest's channels keep their row order
    for group in out:
        if kind == "channel" and ordered:
            order = sorted(range(len(group.keys)), key=lambda i: first_seen.index(group.keys[i]))
        else:
            order = sorted(range(len(group.keys)), key=lambda i: _sort_key(group.keys[i]))
        group.keys = [group.keys[i] for i in order]
        group.paths = [group.paths[i] for i in order]
    first = out[0]
    for group in out[1:]:
        if group.keys != first.keys:
            raise DataError(
                f"{source}: sample {group.id} has {kind} {group.keys} but sample {first.id} has {first.keys}; "
                "every sample needs the same set"
            )
    return Grouping(source, kind, out, meta_keys)


EXTRA_FIELDS = "\x00extra"  # csv.DictReader's key for the fields past the header


def from_manifest(path: Path) -> Grouping:
    """Samples listed in a CSV manifest."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, restkey=EXTRA_FIELDS)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = list(reader)
        longer = next((n for n, rec in enumerate(rows) if EXTRA_FIELDS in rec), None)
        if longer is not None:
            raise DataError(f"{path}: line {longer + 2} has more fields than the header ({', '.join(columns)}); quote values that contain commas")
        records = [{(k or "").strip(): (v or "").strip() for k, v in rec.items()} for rec in rows]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read manifest ({type(exc).__name__}: {exc})") from None
    for required in MANIFEST_REQUIRED:
        if required not in columns:
            raise DataError(f"{path}: manifest has no '{required}' column (columns: {', '.join(columns) or 'none'})")
    set_columns = [c for c in ("time", "channel") if c in columns]
    if len(set_columns) > 1:
        raise DataError(f"{path}: manifest has both 'time' and 'channel' columns; give one set axis")
    if not records:
        raise DataError(f"{path}: manifest lists no files")
    kind = set_columns[0] if set_columns else "single"
    meta_cols = [c for c in columns if c.startswith(METADATA_PREFIX)]
    parsed = {c: _column_values([r[c] for r in records]) for c in meta_cols}
    keys = _column_values([r[kind] for r in records]) if kind != "single" else [None] * len(records)
    rows = []
    for n, rec in enumerate(records):
        if not rec["sample"] or not rec["path"]:
            raise DataError(f"{path}: row {n + 2} has an empty sample or path")
        file = (path.parent / rec["path"]).resolve() if not Path(rec["path"]).is_absolute() else Path(rec["path"])
        if not file.is_file():
            raise DataError(f"{path}: row {n + 2} lists {rec['path']}, which does not exist ({file})")
        meta = {c[len(METADATA_PREFIX):]: parsed[c][n] for c in meta_cols}
        klass = rec.get("class") or None if "class" in columns else None
        rows.append({"sample": rec["sample"], "key": keys[n], "path": file, "class": klass, "meta": meta})
    return _finish(path, kind, rows, tuple(c[len(METADATA_PREFIX):] for c in meta_cols), ordered=True)


def compile_pattern(pattern: str) -> tuple[re.Pattern[str], list[str]]:
    """A file-name pattern as a regular expression over relative paths, and its field names."""
    parts, names, pos = [], [], 0
    for m in _FIELD.finditer(pattern):
        parts.append(re.escape(pattern[pos : m.start()]))
        name, spec = m.group(1), m.group(2)
        if name in names:
            raise ConfigError(f"pattern '{pattern}': field {{{name}}} appears twice")
        names.append(name)
        parts.append(f"(?P<{name}>\\d+)" if spec == "d" else f"(?P<{name}>[^/]+?)")
        pos = m.end()
    parts.append(re.escape(pattern[pos:]))
    return re.compile("".join(parts)), names


def from_pattern(folder: Path, pattern: str) -> Grouping:
    """Samples from file names matching ``pattern`` under ``folder``."""
    regex, names = compile_pattern(pattern)
    set_fields = [n for n in names if n in TIME_FIELDS + CHANNEL_FIELDS]
    if len(set_fields) > 1:
        raise ConfigError(f"pattern '{pattern}': fields {set_fields} both name the set axis; keep one")
    set_field = set_fields[0] if set_fields else None
    kind = "single" if set_field is None else ("time" if set_field in TIME_FIELDS else "channel")
    id_fields = [n for n in names if n != set_field]
    files = sorted(folder.rglob("*") if "/" in pattern else folder.iterdir())
    matches = []
    for file in files:
        rel = file.relative_to(folder).as_posix()
        m = regex.fullmatch(rel)
        if m and file.is_file():
            matches.append((file, m.groupdict()))
    if not matches:
        seen = ", ".join(f.name for f in files[:3] if f.is_file()) or "no files"
        raise DataError(f"{folder}: pattern '{pattern}' matches no file (found: {seen})")
    id_values = {n: _column_values([g[n] for _, g in matches]) for n in id_fields}
    keys = _column_values([g[set_field] for _, g in matches]) if set_field else [None] * len(matches)
    rows = []
    for n, (file, fields) in enumerate(matches):
        sample = "_".join(fields[f] for f in id_fields) if id_fields else file.stem
        meta = {f: id_values[f][n] for f in id_fields if f != "sample"}
        rows.append({"sample": sample, "key": keys[n], "path": file, "class": None, "meta": meta})
    meta_keys = tuple(f for f in id_fields if f != "sample")
    return _finish(folder, kind, rows, meta_keys, ordered=False)


def from_folder(folder: Path) -> Grouping:
    """Every image file directly in ``folder`` is one sample (its id is the file name without suffix)."""
    files = sorted(f for f in folder.iterdir() if f.is_file() and is_image(f))
    if not files:
        raise DataError(f"{folder}: no image files (.png, .tif, .tiff) and no manifest.csv; give a pattern or a manifest")
    rows: list[dict[str, Any]] = [{"sample": f.stem, "key": None, "path": f, "class": None, "meta": {}} for f in files]
    return _finish(folder, "single", rows, (), ordered=True)
