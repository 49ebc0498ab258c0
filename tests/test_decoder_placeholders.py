"""Placeholder delimiters (engine/replay/placeholders.py): rewritten per message, exactly."""

import numpy as np
from hypothesis import given, settings, strategies as st

from engine.fix.placeholders import normalized, placeholder_message_at, safe_cut

FIELDS = st.lists(st.tuples(st.integers(9, 9999), st.text("ABC019.-: ^<>|\\uSOH", max_size=8)),
                  max_size=8)
MARKS = ["^A", "<SOH>", "\\u0001", " | "]


def _stops(line: bytes) -> bool:
    """Whether the decoder's STOP_AT_PLACEHOLDERS check sees a placeholder message."""
    return bool(placeholder_message_at(np.frombuffer(line, np.uint8), 0, len(line)))


def _message(fields, delimiter: str) -> str:
    body = [f"{tag}={value}" for tag, value in fields]
    return delimiter.join(["8=FIX.4.4", "35=8", *body, "10=000"]) + delimiter.rstrip()


@settings(deadline=None, max_examples=200)
@given(FIELDS, st.sampled_from(MARKS), st.sampled_from(["", "20260115-15:00:00.000 : "]))
def test_a_placeholder_message_reads_as_its_soh_twin(fields, mark, prefix):
    # a value holding the placeholder is ambiguous in that notation: left out
    fields = [(tag, value) for tag, value in fields if mark.strip() not in value]
    soh = _message(fields, "\x01")
    marked = _message(fields, mark)
    assert _stops((prefix + marked).encode())
    expected = (prefix + soh).encode()
    if mark == " | ":  # the last " |" of the line is a delimiter too
        expected = expected.rstrip(b"\x01") + b"\x01"
    assert normalized((prefix + marked + "\n").encode()) == expected + b"\n"


@settings(deadline=None, max_examples=200)
@given(FIELDS, st.sampled_from(MARKS))
def test_an_soh_message_is_left_as_it_is_whatever_its_text_holds(fields, mark):
    """A ^A (or <SOH>, ...) inside the value of an SOH- or |-delimited message is text."""
    text = [(58, f"see {mark} here")] + fields
    for delimiter in ("\x01", "|"):
        line = (_message(text, delimiter) + "\n").encode()
        assert normalized(line) == line
        assert not _stops(line)


def test_each_line_decides_its_own_delimiter():
    lines = ("8=FIX.4.4^A35=8^A58=a|b^A10=000^A\n"
             "8=FIX.4.4|35=8|58=x^Ay|10=000|\n"
             "8=FIX.4.2 | 35=8 | 58=p ^A q | 10=000 |\n")
    assert normalized(lines.encode()).decode() == (
        "8=FIX.4.4\x0135=8\x0158=a|b\x0110=000\x01\n"
        "8=FIX.4.4|35=8|58=x^Ay|10=000|\n"
        "8=FIX.4.2\x0135=8\x0158=p ^A q\x0110=000\x01\n")


def test_safe_cut_never_splits_a_line_or_message():
    assert safe_cut(b"8=FIX a\n8=FIX b") == len(b"8=FIX a\n")
    assert safe_cut(b"8=FIX a8=FIX b") == 0  # "a8=FIX": inside a value
    assert safe_cut(b"8=FIX^Aa^A8=FIX b") == len(b"8=FIX^Aa^A")
    assert safe_cut(b"8=FIX | 108=FIX.4.4 | 8=FIX b") == len(b"8=FIX | 108=FIX.4.4 | ")
    assert safe_cut(b"8=FIX a") == 0
    assert safe_cut(b"no message at all") == 0
    assert safe_cut(b"8=FIX a\n8=FIX b\n8=FIX c", 8) == len(b"8=FIX a\n8=FIX b\n")
    assert safe_cut(b"prefix : 8=FIX b") == 0  # never between a prefix and its message
    assert safe_cut(b"xx8=FIX a|8=FIX b", 2) == len(b"xx8=FIX a|")
