"""ceguard: real-time surveillance of clearly erroneous trades."""

__version__ = "0.1.0"
