"""Hand-written BAI2 bank files for tests: one account's deposits (16 records) with the control totals and record
counts a bank writes.

    text = bai2([("165", 8000, "BR001", "ACH CREDIT TRN*1*EFT-100*1512345678\\\\")])
"""

from __future__ import annotations


def bai2(details: list[tuple[str, int, str, str]], as_of: str = "261102") -> str:
    """A BAI2 file of one account: `details` are (type code, cents, bank reference, text). Control totals are
    the sum of the cents; record counts by hand: account = 03 + details + 49, group = 02 + account + 98,
    file = 01 + group + 99."""
    total = sum(cents for _, cents, _, _ in details)
    account_records = 1 + len(details) + 1
    group_records = 1 + account_records + 1
    file_records = 1 + group_records + 1
    lines = ["01,BANKID,PRACTICE,261103,0600,1,,,2/", f"02,PRACTICE,BANKID,1,{as_of},2400,USD,2/",
             "03,1234567890,USD/"]
    lines += [f"16,{code},{cents},Z,{ref},,{text}" for code, cents, ref, text in details]
    lines += [f"49,{total},{account_records}/", f"98,{total},1,{group_records}/", f"99,{total},1,{file_records}/"]
    return "\n".join(lines) + "\n"
