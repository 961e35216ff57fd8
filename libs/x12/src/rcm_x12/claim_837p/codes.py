"""005010X222A1 837P code tables and patterns, shared by the check, the writer and the reader."""

from __future__ import annotations

import re

IMPLEMENTATION = "005010X222A1"
FUNCTIONAL_ID = "HC"  # GS01 for an 837
SOURCE_SYSTEM = "x12-837p"
MAX_CLAIMS_PER_TRANSACTION = 5000  # TR3 1.4.1: receivers may reject a transaction set with more CLMs

# 2000B/2320 SBR09. The destination payer's code comes from payer configuration (batch); other payers'
# types are not in the claim model, and the TR3 says ZZ when the type of insurance is not known.
CLAIM_FILING_INDICATORS = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM", "LM", "MA", "MB",
    "MC", "OF", "TV", "VA", "WC", "ZZ",
})
UNKNOWN_FILING_INDICATOR = "ZZ"

ZIP_PLUS_4 = re.compile(r"[0-9]{9}")
NPI = re.compile(r"[0-9]{10}")  # ASCII only; the check digit is the scrubber's edit (rcm_x12.format.npi_is_valid)
TAX_ID = re.compile(r"[0-9]{9}")
PHONE = re.compile(r"[0-9]{10}")
MAX_CAS_PER_LOOP = 5  # 2320 and 2430 allow 5 CAS segments, 6 reasons each (rcm_x12.format.REASONS_PER_CAS)

PATIENT_RELATIONSHIP = {"spouse": "01", "child": "19", "other": "G8"}  # 2000C PAT01
OTHER_SUBSCRIBER_RELATIONSHIP = {"self": "18", **PATIENT_RELATIONSHIP}  # 2320 SBR02
RELATIONSHIP_FROM_CODE = {"18": "self", "01": "spouse", "19": "child"}  # any other code reads as "other"
DIAGNOSIS_QUALIFIERS = {"ABK": "icd10", "ABF": "icd10", "BK": "icd9", "BF": "icd9"}
