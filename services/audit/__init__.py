"""Audit: keep every integration event of every service, per case, in the order it arrived."""
