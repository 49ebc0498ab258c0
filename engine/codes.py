"""Small integer codes shared by the numba kernels and the Python writers.

The kernels only see integers; these tables turn them back into the words of the
decision records (schemas/decision.schema.json).
"""

# Verdicts.
STANDS = 0
ERRONEOUS = 1
NO_REFERENCE = 2
REJECTED = 3
VERDICT_NAMES = ("stands", "erroneous", "no_reference", "rejected")

# Where the reference price came from.
REF_NONE = 0
REF_LAST_SALE = 1
REF_PREV_CLOSE = 2
REF_SOURCE_NAMES = ("none", "last_sale", "prev_close")

# Trading sessions of the venue clock.
SESSION_REGULAR = 0
SESSION_PRE = 1
SESSION_POST = 2
SESSION_NAMES = ("regular", "pre", "post")

# What the decoder made of one input unit (a FIX message or a garbage line).
UNIT_TRADE = 0        # a fill to judge
UNIT_VENUE_BUST = 1   # 150=H / 20=1: remove the referenced trade from the history
UNIT_VENUE_CORRECT = 2  # 150=G / 20=2: re-price the referenced trade
UNIT_OTHER = 3        # admin, 150=0 New, ...: no decision
UNIT_BAD = 4          # cannot be judged: becomes a `rejected` record
UNIT_LEGACY_FILL = 5  # 150=1/2 on FIX.4.3+: not a fill by the spec; counted, no decision

# Why a unit was rejected. The writer turns (code, offending value) into a sentence.
REASON_NONE = 0
REASON_NO_FIX = 1
REASON_NO_MSGTYPE = 2
REASON_MISSING_FIELD = 3
REASON_NOT_A_NUMBER = 4
REASON_NOT_POSITIVE = 5
REASON_TOO_MANY_DECIMALS = 6
REASON_TOO_LARGE = 7
REASON_BAD_TIME = 8
REASON_BAD_SIDE = 9
REASON_UNTERMINATED = 10
REASON_BAD_TAG = 11
REASON_NO_REF_ID = 12
REASON_REPEATED_TAG = 13
REASON_NAMES = (
    "none",
    "no_fix_message",
    "no_msgtype",
    "missing_field",
    "not_a_number",
    "not_positive",
    "too_many_decimals",
    "too_large",
    "bad_time",
    "bad_side",
    "unterminated",
    "bad_tag",
    "missing_exec_ref_id",
    "repeated_tag",
)

# FIX tag names used in reasons, so an operator reads "LastPx (31)" not "31".
TAG_NAMES = {
    11: "ClOrdID",
    17: "ExecID",
    19: "ExecRefID",
    20: "ExecTransType",
    30: "LastMkt",
    31: "LastPx",
    32: "LastQty",
    35: "MsgType",
    37: "OrderID",
    52: "SendingTime",
    54: "Side",
    55: "Symbol",
    60: "TransactTime",
    150: "ExecType",
    851: "LastLiquidityInd",
    880: "TrdMatchID",
    1057: "AggressorIndicator",
}
