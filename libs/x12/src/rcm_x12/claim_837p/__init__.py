"""The 005010X222A1 837P professional claim: codes, check (can it be billed?), write and read, one module each."""
