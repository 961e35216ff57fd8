"""The implementation-guide validator: pyx12's verdict at a fraction of its cost (see validator.py)."""
