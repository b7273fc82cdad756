"""Tests of the chat domain."""
