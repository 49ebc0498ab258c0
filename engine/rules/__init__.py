"""The rulebook as data and the venue clock."""
