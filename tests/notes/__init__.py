"""Tests of the notes domain."""
