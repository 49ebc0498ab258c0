"""Replay of captured FIX logs through the same decoder and core as the live acceptor."""
