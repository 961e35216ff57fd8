"""OpenRCM's X12 5010 library (pure: no I/O, no service plumbing, no import cycles).

- codec: tokenizer, envelopes (ISA/GS/ST) and writer;
- format: the value rules every writer and reader shares (free text, amounts, dates, ids, NPI, CAS);
- reading: the readers' "unreadable" error and interchange opening;
- claim_837p: codes, check (can the 837P carry it?), write, read;
- remit_835 (read), eligibility_270 (write), eligibility_271 (read), ack_999 and ack_277ca (read and write);
- ig: the implementation-guide validator (pyx12's maps compiled; pyx12's verdict, much faster).

Import the module you need (e.g. `from rcm_x12.claim_837p.write import build_837p`): this package imports
nothing itself, so `import rcm_x12.format` stays cheap for the scrubber's NPI check.
"""
