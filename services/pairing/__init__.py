"""Pairing (结对帮扶): helper units, cadres and visits. Built by its own issue."""
