"""What the sandbox payer does with a claim sent again as a replacement (CLM05-3 = 7) or a void (8) (pure).

835 TR3 1.10.2.8: a payer that already adjudicated a claim answers its replacement with a reversal of what it paid
(CLP02 22, the same CLP01 and CLP07, every amount negated) followed by the replacement's own adjudication (CLP02 1,
2, 3 or 4), in one check; a void is answered with the reversal alone. A replacement or void of a claim the payer
never remitted has nothing to take back: the replacement is paid as a first payment, the void goes unanswered.

What is reversed is the payment standing now (payer_claims.adjudication): after a replacement that is the
replacement's payment, so a second replacement takes back the first replacement's payment, never the original's.
An overpayment (the replacement pays less, or a void takes back a payment) is parked and recovered as in
reprocessing (PLB WO, rcm_sandbox.domain.reprocessing). A replacement's payment carries no interest.

Payer claim statuses:
    received     waiting for adjudication (a new claim, or a 7 or 8 just received)
    remitted     first payment sent (a 7 never remitted before ends here too)
    reprocessed  the payer's own mistake reversed and corrected (members marked `reprocess`)
    replaced     a 7: the standing payment reversed and the replacement paid
    voided       an 8: the standing payment reversed (or nothing to reverse); no payment stands
"""

from __future__ import annotations

from typing import Literal

RECEIVED, REMITTED, REPROCESSED, REPLACED, VOIDED = "received", "remitted", "reprocessed", "replaced", "voided"

REPLACEMENT, VOID = "7", "8"  # CLM05-3

# pay: a first payment; replace: reverse the standing payment and pay the claim anew; void: reverse the standing
# payment only; void_unpaid: a void of nothing paid, answered with nothing
Settlement = Literal["pay", "replace", "void", "void_unpaid"]


def settlement(frequency_code: str, *, remitted_before: bool) -> Settlement:
    """How the payer settles a received claim, by its frequency code and whether a payment of it stands."""
    if frequency_code == VOID:
        return "void" if remitted_before else "void_unpaid"
    if frequency_code == REPLACEMENT and remitted_before:
        return "replace"
    return "pay"  # an original, or a replacement of a claim never remitted


def status_after(how: Settlement) -> str:
    return {"pay": REMITTED, "replace": REPLACED, "void": VOIDED, "void_unpaid": VOIDED}[how]
