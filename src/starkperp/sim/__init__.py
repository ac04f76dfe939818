"""Stress scenarios and reports."""
