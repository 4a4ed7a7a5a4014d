"""Tests of seawarden.geo."""
