"""Hardship-worker relief (困难职工解困脱困): the services and the packages they share."""
