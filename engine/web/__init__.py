"""The HTTP side of the review desk: the JSON case API and the analyst console."""
