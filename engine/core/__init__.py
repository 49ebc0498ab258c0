"""The surveillance core: band check, reference-price book, series, multi-stock events."""
