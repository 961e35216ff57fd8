"""Tests that exercise more than one service package together (never inside a service's own tests)."""
