"""Tests of the contracts domain."""
