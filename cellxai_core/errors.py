"""Errors a user can cause. The CLI turns them into one line on stderr and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """The user's input is wrong (config, data, plugin name, output directory); the message is a single
    line that says what is wrong and where (file, field, path)."""

    exit_code = 2


class DataError(UserError):
    """A data file is missing, unreadable or inconsistent. Name the file in the message."""


class ConfigError(UserError):
    """A pipeline file or override is invalid. Name the file and the field path."""


class NotApplicable(UserError):
    """An explainer has nothing to explain in this run (one cluster to contrast): skipped with a note."""


class PluginError(UserError):
    """A plugin is unknown, blocked, or failed to import."""
